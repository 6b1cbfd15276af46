"""The matcher: which watch entries, sector items and topics a post concerns, whatever its source.

Terms are folded (case- and accent-insensitive) and matched on word boundaries, so that posts
from X, a replay or the synthetic source are tagged alike.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from veille.models import EntryKind
from veille.text import fold, terms_regex
from veille.watch.config import ALL_LANGUAGES, WatchConfig
from veille.watch.rules import parse_rule_tag


def _alternation(terms: Iterable[str]) -> re.Pattern[str] | None:
    return terms_regex(fold(t) for t in terms)


class _TermIndex:
    """Finds which labels' terms occur in a folded text, with one regex for all terms."""

    def __init__(self, terms: dict[str, set[str]]) -> None:
        self._labels = {fold(t): labels for t, labels in terms.items()}
        self._re = _alternation(terms)

    def labels(self, folded_text: str) -> set[str]:
        if self._re is None:
            return set()
        found: set[str] = set()
        for m in self._re.finditer(folded_text):
            found |= self._labels.get(m.group(0), set())
        return found


@dataclass(frozen=True)
class EntryMatch:
    name: str
    kind: EntryKind


def _with_hashtags(folded_text: str, hashtags: Iterable[str]) -> str:
    tags = " ".join(fold(h) for h in hashtags)
    return f"{folded_text} {tags}" if tags else folded_text


class WatchMatcher:
    """Tags posts with the watch entries, sector items and topics they concern.

    An entry matches when its name or an alias appears in the text (folded, word boundaries),
    a hashtag spells it, one of its official accounts is mentioned, replied to or is the author,
    or an X rule tagged with it matched; unless one of its `exclude` terms appears.
    A sector item matches (as an entry of kind "sector") when one of its keywords for the post's
    language (or `all`) appears in the text or its hashtags, or an X rule tagged with it
    matched; unless one of its `exclude` terms appears.
    A topic matches when one of its keywords for the post's language (or `all`) appears, or an
    X context annotation names one of its entities. Topics have no X rules: a rule tag never
    makes a topic.
    """

    def __init__(self, cfg: WatchConfig) -> None:
        self.config = cfg
        self._kinds: dict[str, EntryKind] = {}
        entry_terms: dict[str, set[str]] = defaultdict(set)
        exclude_terms: dict[str, set[str]] = defaultdict(set)
        self._hashtags: dict[str, set[str]] = defaultdict(set)
        self._accounts: dict[str, set[str]] = defaultdict(set)
        for kind, e in cfg.entries():
            self._kinds[e.name] = kind
            for t in e.terms():
                entry_terms[t].add(e.name)
                self._hashtags[re.sub(r"\W", "", fold(t))].add(e.name)
            for t in e.exclude:
                exclude_terms[t].add(e.name)
            for a in e.accounts:
                self._accounts[fold(a)].add(e.name)
        sector_by_lang: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        for item in cfg.sector:
            self._kinds[item.name] = "sector"
            for lang, kws in item.keywords.items():
                for kw in kws:
                    sector_by_lang[lang][kw].add(item.name)
            for t in item.exclude:
                exclude_terms[t].add(item.name)
        self._entries = _TermIndex(entry_terms)
        self._excludes = _TermIndex(exclude_terms)
        self._sector = {lang: _TermIndex(terms) for lang, terms in sector_by_lang.items()}
        by_lang: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        self._entities: dict[str, set[str]] = defaultdict(set)
        for name, topic in cfg.topics.items():
            for lang, kws in topic.keywords.items():
                for kw in kws:
                    by_lang[lang][kw].add(name)
            for ent in topic.entities:
                self._entities[fold(ent)].add(name)
        self._topics = {lang: _TermIndex(terms) for lang, terms in by_lang.items()}
        self._order = {name: i for i, (_, name) in enumerate(cfg.entry_names())}
        self._topic_order = {name: i for i, name in enumerate(cfg.topics)}

    def match_entries(
        self,
        folded_text: str,
        *,
        hashtags: Iterable[str] = (),
        mentions: Iterable[str] = (),
        author: str | None = None,
        reply_to: str | None = None,
        rule_tags: Iterable[str] = (),
        lang: str | None = None,
    ) -> list[EntryMatch]:
        """The entries and sector items the post concerns, in watch-file order. `lang` is the
        post's language: a sector item's keywords for it (and for `all`) count; None: the
        keywords of every language count."""
        hashtags = tuple(hashtags)
        names = self._entries.labels(folded_text)
        if self._sector:
            text = _with_hashtags(folded_text, hashtags)
            keys: Iterable[str] = self._sector if lang is None else (ALL_LANGUAGES, lang)
            for key in keys:
                index = self._sector.get(key)
                if index is not None:
                    names |= index.labels(text)
        for h in hashtags:
            names |= self._hashtags.get(fold(h), set())
        for handle in (*mentions, author or "", reply_to or ""):
            names |= self._accounts.get(fold(handle), set())
        for tag in rule_tags:
            parsed = parse_rule_tag(tag)
            if parsed and parsed[1] in self._kinds:
                names.add(parsed[1])
        names -= self._excludes.labels(folded_text)
        return [EntryMatch(n, self._kinds[n]) for n in sorted(names, key=self._order.__getitem__)]

    def match_topics(
        self,
        folded_text: str,
        lang: str,
        *,
        hashtags: Iterable[str] = (),
        entities: Iterable[str] = (),
    ) -> list[str]:
        """The topics of a post in `lang`, in watch-file order."""
        text = _with_hashtags(folded_text, hashtags)
        found: set[str] = set()
        for key in (ALL_LANGUAGES, lang):
            index = self._topics.get(key)
            if index is not None:
                found |= index.labels(text)
        for ent in entities:
            found |= self._entities.get(fold(ent), set())
        return sorted(found, key=self._topic_order.__getitem__)
