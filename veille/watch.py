"""What a company watches (watch.yaml): its schema, X filtered-stream rules, in-process matchers.

watch.yaml declares brands (with aliases and official accounts), competitors, partners,
suppliers, topics (keywords, optionally per language) and the languages of interest.
`load_watch` validates it and raises `WatchConfigError` naming the file and the field.

It compiles two ways, from the same terms:
- `compile_rules` gives tagged X filtered-stream rules (`brand:Acme`, `topic:outage`, ...),
  splitting long OR-lists so that no rule passes X's length limit;
- `WatchMatcher` finds, in a post, the entries and topics it concerns (folded: case- and
  accent-insensitive, on word boundaries), so that posts from any source are tagged alike.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from veille.models import EntryKind
from veille.text import fold

X_MAX_RULES = 1000
X_MAX_RULE_LENGTH = 1024

Lang = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$")]
Handle = Annotated[str, StringConstraints(pattern=r"^@?[A-Za-z0-9_]{1,15}$")]
Term = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
ENTRY_KINDS: tuple[EntryKind, ...] = ("brand", "competitor", "partner", "supplier")
ALL_LANGUAGES = "all"


class WatchConfigError(ValueError):
    """watch.yaml is missing, not YAML, or does not follow the schema (the message says where)."""


class WatchEntry(BaseModel):
    """A brand, competitor, partner or supplier: its name, other names and official accounts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Term
    aliases: tuple[Term, ...] = ()
    accounts: tuple[Handle, ...] = Field((), description="official X handles, without @")
    exclude: tuple[Term, ...] = Field((), description="terms that disqualify a match")

    @field_validator("accounts")
    @classmethod
    def _strip_at(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(a.lstrip("@") for a in v)

    @field_validator("name", "aliases", "exclude")
    @classmethod
    def _no_quotes(cls, v: Any) -> Any:
        for term in (v,) if isinstance(v, str) else v:
            if '"' in term:
                raise ValueError(f"{term!r}: double quotes are not allowed in terms")
        return v

    def terms(self) -> tuple[str, ...]:
        """The words that designate this entry in text: its name and aliases, deduplicated."""
        seen: dict[str, str] = {}
        for t in (self.name, *self.aliases):
            seen.setdefault(fold(t), t)
        return tuple(seen.values())


class Topic(BaseModel):
    """Keywords of a topic: `all` for every language, or per ISO 639-1 language code."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    keywords: dict[str, tuple[Term, ...]]
    entities: tuple[Term, ...] = Field(
        (), description="X context-annotation entity names or ids that also mean this topic"
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, list):  # `topic: [kw, kw]` means the keywords of every language
            return {"keywords": {ALL_LANGUAGES: data}}
        if isinstance(data, dict) and "keywords" not in data:
            data = dict(data)
            entities = data.pop("entities", ())
            return {"keywords": data, "entities": entities}
        return data

    @field_validator("keywords")
    @classmethod
    def _languages(cls, v: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        for lang, terms in v.items():
            if lang != ALL_LANGUAGES and not re.fullmatch(r"[a-z]{2}", lang):
                raise ValueError(f"{lang!r} is neither 'all' nor an ISO 639-1 language code")
            for term in terms:
                if '"' in term:
                    raise ValueError(f"{term!r}: double quotes are not allowed in terms")
        if not any(v.values()):
            raise ValueError("a topic needs at least one keyword")
        return v


class WatchConfig(BaseModel):
    """The whole watch configuration (watch.yaml)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    languages: tuple[Lang, ...] = Field((), description="languages of interest; empty: all")
    brands: tuple[WatchEntry, ...] = ()
    competitors: tuple[WatchEntry, ...] = ()
    partners: tuple[WatchEntry, ...] = ()
    suppliers: tuple[WatchEntry, ...] = ()
    topics: dict[Annotated[str, StringConstraints(pattern=r"^[\w][\w .&/+-]{0,63}$")], Topic] = {}

    @model_validator(mode="after")
    def _unique_names(self) -> WatchConfig:
        seen: dict[str, str] = {}
        for kind, entry in self.entries():
            key = fold(entry.name)
            if key in seen:
                raise ValueError(f"entry name {entry.name!r} is used twice ({seen[key]}, {kind})")
            seen[key] = kind
        if not seen and not self.topics:
            raise ValueError("nothing to watch: declare at least one brand, competitor or topic")
        return self

    def entries(self) -> list[tuple[EntryKind, WatchEntry]]:
        groups: tuple[tuple[EntryKind, tuple[WatchEntry, ...]], ...] = (
            ("brand", self.brands),
            ("competitor", self.competitors),
            ("partner", self.partners),
            ("supplier", self.suppliers),
        )
        return [(kind, e) for kind, group in groups for e in group]

    def entry_kind(self, name: str) -> EntryKind | None:
        return next((k for k, e in self.entries() if e.name == name), None)

    def official_accounts(self, kinds: Iterable[EntryKind] = ("brand",)) -> dict[str, str]:
        """Folded handle -> entry name, for the official accounts of entries of `kinds`."""
        wanted = set(kinds)
        return {fold(a): e.name for k, e in self.entries() if k in wanted for a in e.accounts}


def default_watch_path() -> Path:
    """./watch.yaml when present, else the example bundled with veille."""
    local = Path("watch.yaml")
    if local.is_file():
        return local
    return Path(str(resources.files("veille") / "data" / "watch.yaml"))


def load_watch(path: Path | str | None = None) -> WatchConfig:
    """Read and validate a watch file. Raises `WatchConfigError` saying which file and field."""
    p = Path(path) if path else default_watch_path()
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as e:
        raise WatchConfigError(f"{p}: cannot read watch configuration: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise WatchConfigError(f"{p}: not valid YAML: {e}") from None
    return parse_watch(data, origin=str(p))


def parse_watch(data: Any, origin: str = "watch.yaml") -> WatchConfig:
    if not isinstance(data, dict):
        raise WatchConfigError(f"{origin}: expected a mapping at the top level")
    try:
        return WatchConfig.model_validate(data)
    except ValidationError as e:
        lines = []
        for err in e.errors():
            loc = ".".join(str(x) for x in err["loc"]) or "(top level)"
            lines.append(f"  {loc}: {err['msg']}")
        raise WatchConfigError(
            f"{origin}: invalid watch configuration\n" + "\n".join(lines)
        ) from None


# --- X filtered-stream rules ----------------------------------------------------------------


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


# --- in-process matchers --------------------------------------------------------------------


def _alternation(terms: Iterable[str]) -> re.Pattern[str] | None:
    folded = sorted({fold(t) for t in terms}, key=len, reverse=True)
    if not folded:
        return None
    body = "|".join(re.escape(t) for t in folded)
    return re.compile(rf"(?<!\w)(?:{body})(?!\w)")


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


class WatchMatcher:
    """Tags posts with the watch entries and topics they concern.

    An entry matches when its name or an alias appears in the text (folded, word boundaries),
    a hashtag spells it, one of its official accounts is mentioned, replied to or is the author,
    or an X rule tagged with it matched; unless one of its `exclude` terms appears.
    A topic matches when one of its keywords for the post's language (or `all`) appears, or an
    X context annotation names one of its entities.
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
        self._entries = _TermIndex(entry_terms)
        self._excludes = _TermIndex(exclude_terms)
        by_lang: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        self._entities: dict[str, set[str]] = defaultdict(set)
        for name, topic in cfg.topics.items():
            for lang, kws in topic.keywords.items():
                for kw in kws:
                    by_lang[lang][kw].add(name)
            for ent in topic.entities:
                self._entities[fold(ent)].add(name)
        self._topics = {lang: _TermIndex(terms) for lang, terms in by_lang.items()}
        self._order = {name: i for i, (_, e) in enumerate(cfg.entries()) for name in [e.name]}
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
    ) -> list[EntryMatch]:
        names = self._entries.labels(folded_text)
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
        rule_tags: Iterable[str] = (),
    ) -> list[str]:
        text = folded_text
        tags = " ".join(fold(h) for h in hashtags)
        if tags:
            text = f"{text} {tags}"
        found: set[str] = set()
        for key in (ALL_LANGUAGES, lang):
            index = self._topics.get(key)
            if index is not None:
                found |= index.labels(text)
        for ent in entities:
            found |= self._entities.get(fold(ent), set())
        for tag in rule_tags:
            parsed = parse_rule_tag(tag)
            if parsed and parsed[0] == "topic" and parsed[1] in self._topic_order:
                found.add(parsed[1])
        return sorted(found, key=self._topic_order.__getitem__)
