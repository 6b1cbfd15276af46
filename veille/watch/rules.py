"""The X rule compiler: watch entries and topics as tagged X filtered-stream rules.

`compile_rules` gives one rule per entry and per topic language (`brand:Acme`, `topic:outage`,
...), splitting long OR-lists into parts (`brand:Acme#2`) so that no rule passes X's length
limit; `parse_rule_tag` reads a tag back.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from veille.watch.config import ALL_LANGUAGES, ENTRY_KINDS, WatchConfig, WatchConfigError

X_MAX_RULES = 1000
X_MAX_RULE_LENGTH = 1024


@dataclass(frozen=True)
class Rule:
    """One X filtered-stream rule: its query and the tag that routes matches back to watch."""

    value: str
    tag: str


def rule_tag(kind: str, name: str, part: int = 1) -> str:
    return f"{kind}:{name}" + (f"#{part}" if part > 1 else "")


def parse_rule_tag(tag: str) -> tuple[str, str] | None:
    """(kind, name) of a veille rule tag, or None for a tag veille did not write."""
    kind, sep, rest = tag.partition(":")
    if not sep or kind not in (*ENTRY_KINDS, "topic"):
        return None
    return kind, re.sub(r"#\d+$", "", rest)


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
    """X filtered-stream rules for every entry and topic, tagged `kind:name[#part]`.

    Raises `WatchConfigError` when a single term cannot fit a rule or when the configuration
    needs more than `max_rules` rules.
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
    for name, topic in cfg.topics.items():
        tag = rule_tag("topic", name)
        offset = 0
        for lang, kws in topic.keywords.items():
            sfx = suffix if lang == ALL_LANGUAGES else f"lang:{lang}"
            parts = _split([_x_term(t) for t in kws], sfx, tag, max_length)
            for value, part in parts:
                rules.append(Rule(value, rule_tag("topic", name, offset + part)))
            offset += len(parts)
    if len(rules) > max_rules:
        raise WatchConfigError(
            f"watch configuration compiles to {len(rules)} rules; X allows {max_rules}"
        )
    return rules
