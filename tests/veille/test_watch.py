"""watch.yaml: schema errors, X rules within X's limits, in-process matching."""

from __future__ import annotations

from pathlib import Path

import pytest

from veille.text import fold
from veille.watch import (
    WatchConfigError,
    WatchMatcher,
    compile_rules,
    load_watch,
    parse_rule_tag,
    parse_watch,
)

CFG = {
    "languages": ["fr", "en"],
    "brands": [
        {
            "name": "Crédit Lyonnais",
            "aliases": ["LCL", "#CreditLyonnais"],
            "accounts": ["@lcl", "LCL_aide"],
            "exclude": ["lcl fm"],
        }
    ],
    "competitors": [{"name": "Banque Verte", "aliases": ["BV"], "accounts": ["banqueverte"]}],
    "topics": {
        "fees": {"fr": ["frais", "agios"], "en": ["fees", "overdraft"]},
        "app": ["appli", "application", "app"],
        "crypto": {"all": ["bitcoin"], "entities": ["Cryptocurrencies"]},
    },
}


def test_bundled_example_is_valid_and_compiles() -> None:
    cfg = load_watch()
    rules = compile_rules(cfg)
    assert 1 <= len(rules) <= 1000 and all(len(r.value) <= 1024 for r in rules)
    assert any(r.tag == "brand:Orbital Telecom" for r in rules)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"brands": [{"aliases": ["x"]}]}, "brands.0.name"),
        ({"brands": [{"name": "A", "accounts": ["not a handle!"]}]}, "brands.0.accounts.0"),
        ({"brands": [{"name": "A", "colour": "red"}]}, "colour"),
        ({"languages": ["french"], "brands": [{"name": "A"}]}, "languages.0"),
        ({"topics": {"t": {"klingon": ["x"]}}}, "klingon"),
        ({"brands": [{"name": "A"}], "competitors": [{"name": "a"}]}, "used twice"),
        ({}, "nothing to watch"),
        ({"brands": [{"name": 'say "hi"'}]}, "double quotes"),
    ],
)
def test_schema_errors_name_the_field(data: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(WatchConfigError, match=message):
        parse_watch(data)


def test_load_reports_file_and_yaml_errors(tmp_path: Path) -> None:
    with pytest.raises(WatchConfigError, match="cannot read"):
        load_watch(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("brands: [\n")
    with pytest.raises(WatchConfigError, match="not valid YAML"):
        load_watch(bad)


def test_rules_use_x_syntax_and_tags() -> None:
    rules = {r.tag: r.value for r in compile_rules(parse_watch(CFG))}
    brand = rules["brand:Crédit Lyonnais"]
    assert brand.startswith('("Crédit Lyonnais" OR LCL OR #CreditLyonnais OR @lcl OR from:lcl')
    assert '-"lcl fm"' in brand and brand.endswith("(lang:fr OR lang:en)")
    assert rules["topic:fees"] == "(frais OR agios) lang:fr"
    assert rules["topic:fees#2"] == "(fees OR overdraft) lang:en"
    assert rules["topic:app"] == "(appli OR application OR app) (lang:fr OR lang:en)"
    assert parse_rule_tag("topic:fees#2") == ("topic", "fees")
    assert parse_rule_tag("somebody else's rule") is None


def test_long_or_lists_are_split_within_the_limit() -> None:
    terms = [f"keyword{i:04d}" for i in range(600)]
    cfg = parse_watch({"topics": {"many": {"all": terms}}})
    rules = compile_rules(cfg, max_length=512)
    assert len(rules) > 1 and all(len(r.value) <= 512 for r in rules)
    assert [r.tag for r in rules][:3] == ["topic:many", "topic:many#2", "topic:many#3"]
    covered = " ".join(r.value for r in rules)
    assert all(t in covered for t in terms)
    with pytest.raises(WatchConfigError, match="X allows 3"):
        compile_rules(cfg, max_rules=3, max_length=512)
    with pytest.raises(WatchConfigError, match="alone makes a rule longer"):
        compile_rules(cfg, max_length=10)


def test_matcher_is_case_accent_and_word_boundary_aware() -> None:
    m = WatchMatcher(parse_watch(CFG))

    def entries(text: str, **kw) -> list[str]:  # type: ignore[no-untyped-def]
        return [e.name for e in m.match_entries(fold(text), **kw)]

    assert entries("Je quitte le CREDIT LYONNAIS") == ["Crédit Lyonnais"]
    assert entries("ma banque lcl ne répond pas") == ["Crédit Lyonnais"]
    assert entries("the LCLX fund") == []  # word boundary
    assert entries("j'écoute LCL FM") == []  # exclude term
    assert entries("merci", mentions=["LCL_aide"]) == ["Crédit Lyonnais"]
    assert entries("merci", author="banqueverte") == ["Banque Verte"]
    assert entries("top", hashtags=["creditlyonnais"]) == ["Crédit Lyonnais"]
    assert entries("bof", rule_tags=["competitor:Banque Verte#2"]) == ["Banque Verte"]
    assert entries("LCL ou BV ?") == ["Crédit Lyonnais", "Banque Verte"]


def test_topics_follow_the_post_language() -> None:
    m = WatchMatcher(parse_watch(CFG))
    assert m.match_topics(fold("Des FRAIS cachés sur l'application"), "fr") == ["fees", "app"]
    assert m.match_topics(fold("des frais"), "en") == []  # French keyword, English post
    assert m.match_topics(fold("hidden fees"), "en") == ["fees"]
    assert m.match_topics(fold("rien"), "fr", entities=["Cryptocurrencies"]) == ["crypto"]
    assert m.match_topics(fold("to the moon"), "en", hashtags=["Bitcoin"]) == ["crypto"]
