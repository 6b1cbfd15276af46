"""The X rule compiler: watch entries and sector items as tagged X filtered-stream rules.

X bills every post a rule delivers, so only what watch.yaml asks to read compiles to rules:
`compile_rules` gives one rule per entry (`brand:Acme`, ...) and one per sector item and
keyword language (`sector:Telecoms`, sampled with X's `sample:` operator when the item says so),
splitting long OR-lists into parts (`brand:Acme#2`) so that no rule passes X's length limit.
Topics compile to nothing: they classify the posts these rules bring. `parse_rule_tag` reads a
tag back; `rule_scope` says what a compiled rule reads, that is what it spends.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from veille.watch.config import ALL_LANGUAGES, ENTRY_KINDS, WatchConfig, WatchConfigError

X_MAX_RULES = 1000
X_MAX_RULE_LENGTH = 1024


@dataclass(frozen=True)
class Rule:
    """One X filtered-stream rule: its query and the tag that routes matches back to watch."""

    value: str
    tag: str


RuleKind = Literal["entry", "sector"]


@dataclass(frozen=True)
class RuleScope:
    """What a compiled rule reads, hence what it spends (X bills every post it delivers).

    An `entry` rule reads every post that names a watch entry (its names, aliases, official
    accounts); a `sector` rule reads the broad traffic of its keywords, `sample` percent of it.
    """

    kind: RuleKind
    sample: int = 100

    def __str__(self) -> str:
        return self.kind if self.sample == 100 else f"{self.kind} {self.sample}%"


def rule_tag(kind: str, name: str, part: int = 1) -> str:
    return f"{kind}:{name}" + (f"#{part}" if part > 1 else "")


def parse_rule_tag(tag: str) -> tuple[str, str] | None:
    """(kind, name) of a veille rule tag, or None for a tag veille did not write (`topic:` tags
    of older versions included: topics compile to no rule any more)."""
    kind, sep, rest = tag.partition(":")
    if not sep or kind not in ENTRY_KINDS:
        return None
    return kind, re.sub(r"#\d+$", "", rest)


def rule_scope(rule: Rule) -> RuleScope:
    """The scope of a rule `compile_rules` made. Raises ValueError for a rule veille did not
    write (its tag is not a veille tag)."""
    parsed = parse_rule_tag(rule.tag)
    if parsed is None:
        raise ValueError(f"{rule.tag!r} is not a veille rule tag")
    if parsed[0] != "sector":
        return RuleScope("entry")
    m = re.search(r"(?:^| )sample:(\d+)$", rule.value)
    return RuleScope("sector", int(m.group(1)) if m else 100)


def _x_term(term: str) -> str:
    if re.fullmatch(r"[#$@]?\w+", term):
        return term
    return f'"{term}"'


def _split(terms: Sequence[str], suffix: str, tag: str, max_length: int) -> list[tuple[str, int]]:
    """Pack terms into OR-groups that fit, with the suffix, in max_length characters."""
    rules: list[tuple[str, int]] = []
    current: list[str] = []

    def render(ts: list[str]) -> str:
        body = ts[0] if len(ts) == 1 else "(" + " OR ".join(ts) + ")"
        return f"{body} {suffix}".strip()

    for term in terms:
        if len(render([term])) > max_length:
            raise WatchConfigError(
                f"{tag}: term {term!r} alone makes a rule longer than {max_length} characters"
            )
        if current and len(render([*current, term])) > max_length:
            rules.append((render(current), len(rules) + 1))
            current = []
        current.append(term)
    if current:
        rules.append((render(current), len(rules) + 1))
    return rules


def _lang_suffix(langs: Sequence[str]) -> str:
    if not langs:
        return ""
    if len(langs) == 1:
        return f"lang:{langs[0]}"
    return "(" + " OR ".join(f"lang:{lang}" for lang in langs) + ")"


def compile_rules(
    cfg: WatchConfig, max_rules: int = X_MAX_RULES, max_length: int = X_MAX_RULE_LENGTH
) -> list[Rule]:
    """X filtered-stream rules for every entry and sector item, tagged `kind:name[#part]`.

    An entry's rule ORs its names, aliases and official accounts (`@acct`, `from:acct`), minus
    its `exclude` terms, in the languages of interest. A sector item gives one rule per keyword
    language (`all`: the languages of interest), minus its `exclude` terms, with `sample:N` when
    it samples. Topics give no rule. Raises `WatchConfigError` when a single term cannot fit a
    rule or when the configuration needs more than `max_rules` rules.
    """
    rules: list[Rule] = []
    suffix = _lang_suffix(cfg.languages)
    for kind, entry in cfg.entries():
        terms = [_x_term(t) for t in entry.terms()]
        for acct in entry.accounts:
            terms += [f"@{acct}", f"from:{acct}"]
        excl = " ".join(f"-{_x_term(t)}" for t in entry.exclude)
        tag = rule_tag(kind, entry.name)
        for value, part in _split(terms, f"{excl} {suffix}".strip(), tag, max_length):
            rules.append(Rule(value, rule_tag(kind, entry.name, part)))
    for item in cfg.sector:
        tag = rule_tag("sector", item.name)
        excl = " ".join(f"-{_x_term(t)}" for t in item.exclude)
        sample = f"sample:{item.sample}" if item.sample is not None and item.sample < 100 else ""
        offset = 0
        for lang, kws in item.keywords.items():
            langs = suffix if lang == ALL_LANGUAGES else f"lang:{lang}"
            sfx = " ".join(x for x in (excl, langs, sample) if x)
            parts = _split([_x_term(t) for t in kws], sfx, tag, max_length)
            for value, part in parts:
                rules.append(Rule(value, rule_tag("sector", item.name, offset + part)))
            offset += len(parts)
    if len(rules) > max_rules:
        raise WatchConfigError(
            f"watch configuration compiles to {len(rules)} rules; X allows {max_rules}"
        )
    return rules
