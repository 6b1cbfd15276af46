"""watch.yaml: schema errors, X rules within X's limits, in-process matching."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from veille.text import fold
from veille.watch import (
    Rule,
    RuleScope,
    WatchConfigError,
    WatchMatcher,
    compile_rules,
    load_watch,
    parse_rule_tag,
    parse_watch,
    rule_scope,
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
    "sector": [
        {
            "name": "Banking news",
            "keywords": {"fr": ["néobanque", "taux du livret A"], "all": ["#fintech"]},
            "exclude": ["jeu concours"],
            "sample": 5,
        },
        {"name": "Open banking", "keywords": ["open banking"]},
    ],
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
    root = Path(__file__).resolve().parents[2]
    assert (root / "watch.yaml").read_text() == (root / "veille/data/watch.yaml").read_text()


def _positive_terms(value: str) -> set[str]:
    """The terms a rule ORs, without its excludes and `lang:` / `sample:` operators."""
    tokens = re.findall(r'-?"[^"]+"|[^\s()]+', value)
    return {
        t.strip('"')
        for t in tokens
        if t != "OR" and not t.startswith(("-", "lang:", "sample:", "from:", "@"))
    }


def test_topics_compile_to_no_rule() -> None:
    """X bills every post a rule reads: a rule of topic keywords alone reads millions of posts a
    day about anything. Every rule of the example names an entry or is a sampled sector item."""
    cfg = load_watch()
    assert cfg.topics and cfg.sector
    rules = compile_rules(cfg)
    kinds = {k for k, _ in (parse_rule_tag(r.tag) or ("?", "") for r in rules)}
    assert kinds == {"brand", "competitor", "partner", "supplier", "sector"}
    topic_kws = {k for t in cfg.topics.values() for ks in t.keywords.values() for k in ks}
    entry_terms = {t for _, e in cfg.entries() for t in e.terms()}
    sector_kws = {k for i in cfg.sector for ks in i.keywords.values() for k in ks}
    for r in rules:
        terms = _positive_terms(r.value)
        assert terms and not terms <= topic_kws, f"{r.tag} is made of topic keywords alone"
        scope = rule_scope(r)
        if scope.kind == "entry":
            assert terms <= entry_terms, r
        else:
            assert terms <= sector_kws and r.value.endswith(" sample:10"), r
            assert scope.sample == 10


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
        ({"topics": {"t": ["x"]}}, "topics compile to no X rule"),
        ({"sector": [{"name": "S", "keywords": ["x"], "sample": 0}]}, "sector.0.sample"),
        ({"sector": [{"name": "S", "keywords": ["x"], "sample": 101}]}, "sector.0.sample"),
        ({"sector": [{"name": "S", "keywords": ["x"], "sample": True}]}, "sector.0.sample"),
        ({"sector": [{"name": "S", "keywords": {"klingon": ["x"]}}]}, "klingon"),
        ({"sector": [{"name": "S", "keywords": {"fr": []}}]}, "at least one keyword"),
        ({"brands": [{"name": "S"}], "sector": [{"name": "s", "keywords": ["x"]}]}, "used twice"),
        (
            {
                "languages": ["fr"],
                "sector": [{"name": "S", "keywords": {"fr": ["x"], "es": ["y"]}}],
            },
            "keywords for es, not among the languages of interest",
        ),
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
    assert not [t for t in rules if t.startswith("topic:")]
    assert rules["sector:Banking news"] == (
        '(néobanque OR "taux du livret A") -"jeu concours" lang:fr sample:5'
    )
    assert rules["sector:Banking news#2"] == (
        '#fintech -"jeu concours" (lang:fr OR lang:en) sample:5'
    )
    assert rules["sector:Open banking"] == '"open banking" (lang:fr OR lang:en)'
    assert len(rules) == 5
    assert parse_rule_tag("sector:Banking news#2") == ("sector", "Banking news")
    assert parse_rule_tag("topic:fees#2") is None  # an older veille's topic rule: not ours now
    assert parse_rule_tag("somebody else's rule") is None


def test_rule_scope_says_what_a_rule_reads() -> None:
    scopes = {r.tag: rule_scope(r) for r in compile_rules(parse_watch(CFG))}
    assert scopes["brand:Crédit Lyonnais"] == RuleScope("entry", 100)
    assert scopes["competitor:Banque Verte"] == RuleScope("entry", 100)
    assert scopes["sector:Banking news#2"] == RuleScope("sector", 5)
    assert scopes["sector:Open banking"] == RuleScope("sector", 100)
    assert [str(scopes[t]) for t in ("brand:Crédit Lyonnais", "sector:Banking news")] == [
        "entry",
        "sector 5%",
    ]
    one = parse_watch({"sector": [{"name": "S", "keywords": ["x"], "sample": 100}]})
    assert compile_rules(one) == [Rule("x", "sector:S")]  # sample:100 reads everything anyway
    with pytest.raises(ValueError, match="not a veille rule tag"):
        rule_scope(Rule("x", "topic:fees"))


def test_long_or_lists_are_split_within_the_limit() -> None:
    terms = [f"keyword{i:04d}" for i in range(600)]
    cfg = parse_watch({"sector": [{"name": "many", "keywords": {"all": terms}, "sample": 10}]})
    rules = compile_rules(cfg, max_length=512)
    assert len(rules) > 1 and all(len(r.value) <= 512 for r in rules)
    assert [r.tag for r in rules][:3] == ["sector:many", "sector:many#2", "sector:many#3"]
    assert all(r.value.endswith(" sample:10") for r in rules)
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


def test_matcher_tags_sector_posts_as_sector_entries() -> None:
    m = WatchMatcher(parse_watch(CFG))

    def sector(text: str, **kw) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
        return [(e.name, e.kind) for e in m.match_entries(fold(text), **kw)]

    lcl = [("Crédit Lyonnais", "brand")]
    assert sector("Les NÉOBANQUES et LCL", lang="fr") == lcl  # "néobanques": word boundary
    assert sector("une néobanque de plus", lang="fr") == [("Banking news", "sector")]
    assert sector("une néobanque de plus", lang="en") == []  # a French keyword
    assert sector("une néobanque de plus") == [("Banking news", "sector")]  # no language: any
    assert sector("so #fintech", lang="en") == [("Banking news", "sector")]  # `all`
    assert sector("open banking at BV", lang="de") == [
        ("Banque Verte", "competitor"),
        ("Open banking", "sector"),
    ]
    assert sector("néobanque : jeu concours !", lang="fr") == []  # exclude term
    assert sector("rien", rule_tags=["sector:Banking news#2"]) == [("Banking news", "sector")]
    assert parse_watch(CFG).entry_kind("Open banking") == "sector"


def test_topics_follow_the_post_language() -> None:
    m = WatchMatcher(parse_watch(CFG))
    assert m.match_topics(fold("Des FRAIS cachés sur l'application"), "fr") == ["fees", "app"]
    assert m.match_topics(fold("des frais"), "en") == []  # French keyword, English post
    assert m.match_topics(fold("hidden fees"), "en") == ["fees"]
    assert m.match_topics(fold("rien"), "fr", entities=["Cryptocurrencies"]) == ["crypto"]
    assert m.match_topics(fold("to the moon"), "en", hashtags=["Bitcoin"]) == ["crypto"]
    assert m.match_entries(fold("des frais"), rule_tags=["topic:fees"]) == []
