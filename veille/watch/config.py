"""watch.yaml: its schema and its loading.

watch.yaml declares what veille reads from X, and how it classifies what it read:
- watch entries: brands (with aliases and official accounts), competitors, partners, suppliers.
  Each compiles to X rules that read every post naming it;
- the sector: named items of deliberate broad listening (a market's news, new trends), keywords
  for every language or per language, each optionally sampled (`sample: 10` reads 10 % of the
  posts its keywords match);
- topics: keywords (optionally per language) that classify the posts entries and the sector
  bring in. Topics compile to no X rule: alone, they read nothing;
- the languages of interest.
`load_watch` validates it and raises `WatchConfigError` naming the file and the field.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
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

Lang = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$")]
Handle = Annotated[str, StringConstraints(pattern=r"^@?[A-Za-z0-9_]{1,15}$")]
Term = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
ENTRY_KINDS: tuple[EntryKind, ...] = ("brand", "competitor", "partner", "supplier", "sector")
"""Every kind a post's entries can have: the named entries' four, then the sector items'."""
ALL_LANGUAGES = "all"


class WatchConfigError(ValueError):
    """watch.yaml is missing, not YAML, or does not follow the schema (the message says where)."""


def _without_quotes(v: Any) -> Any:
    """A term, or terms, without double quotes (X's phrase delimiter); ValueError otherwise."""
    for term in (v,) if isinstance(v, str) else v:
        if '"' in term:
            raise ValueError(f"{term!r}: double quotes are not allowed in terms")
    return v


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
        return _without_quotes(v)

    def terms(self) -> tuple[str, ...]:
        """The words that designate this entry in text: its name and aliases, deduplicated."""
        seen: dict[str, str] = {}
        for t in (self.name, *self.aliases):
            seen.setdefault(fold(t), t)
        return tuple(seen.values())


def _check_keywords(v: dict[str, tuple[str, ...]], what: str) -> dict[str, tuple[str, ...]]:
    """Keywords keyed by `all` or an ISO 639-1 code, without double quotes, at least one."""
    for lang, terms in v.items():
        if lang != ALL_LANGUAGES and not re.fullmatch(r"[a-z]{2}", lang):
            raise ValueError(f"{lang!r} is neither 'all' nor an ISO 639-1 language code")
        for term in terms:
            if '"' in term:
                raise ValueError(f"{term!r}: double quotes are not allowed in terms")
    if not any(v.values()):
        raise ValueError(f"a {what} needs at least one keyword")
    return v


class SectorItem(BaseModel):
    """Deliberate broad listening beyond the watch entries: a market's news, new trends.

    Its keywords (`all` for every language, or per ISO 639-1 language code) compile to X rules
    tagged `sector:<name>`, which read every post that contains one of them: broad traffic, paid
    per post. `sample` (1 to 100) keeps that percentage of those posts (X's `sample:` operator).
    Downstream, a sector item is a watch entry of kind "sector".
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Term
    keywords: dict[str, tuple[Term, ...]]
    exclude: tuple[Term, ...] = Field((), description="terms that disqualify a match")
    sample: Annotated[int, Field(strict=True, ge=1, le=100)] | None = Field(
        None, description="percentage of the matching posts X delivers; none: all of them"
    )

    @field_validator("keywords", mode="before")
    @classmethod
    def _shorthand(cls, v: Any) -> Any:
        if isinstance(v, list):  # `keywords: [kw, kw]` means the keywords of every language
            return {ALL_LANGUAGES: v}
        return v

    @field_validator("keywords")
    @classmethod
    def _languages(cls, v: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        return _check_keywords(v, "sector item")

    @field_validator("name", "exclude")
    @classmethod
    def _no_quotes(cls, v: Any) -> Any:
        return _without_quotes(v)


class Topic(BaseModel):
    """Keywords of a topic: `all` for every language, or per ISO 639-1 language code.

    A topic classifies the posts that entries and the sector bring in; it compiles to no X rule.
    """

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
        return _check_keywords(v, "topic")


class WatchConfig(BaseModel):
    """The whole watch configuration (watch.yaml)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    languages: tuple[Lang, ...] = Field((), description="languages of interest; empty: all")
    brands: tuple[WatchEntry, ...] = ()
    competitors: tuple[WatchEntry, ...] = ()
    partners: tuple[WatchEntry, ...] = ()
    suppliers: tuple[WatchEntry, ...] = ()
    sector: tuple[SectorItem, ...] = ()
    topics: dict[Annotated[str, StringConstraints(pattern=r"^[\w][\w .&/+-]{0,63}$")], Topic] = {}

    @model_validator(mode="after")
    def _something_to_watch(self) -> WatchConfig:
        seen: dict[str, str] = {}
        for kind, name in self.entry_names():
            key = fold(name)
            if key in seen:
                raise ValueError(f"entry name {name!r} is used twice ({seen[key]}, {kind})")
            seen[key] = kind
        if not seen:
            why = (
                " (topics compile to no X rule: they only classify the posts that entries and "
                "the sector bring in)"
                if self.topics
                else ""
            )
            raise ValueError(
                "nothing to watch: declare at least one brand, competitor, partner, supplier or "
                "sector item" + why
            )
        for item in self.sector:
            other = [k for k in item.keywords if k != ALL_LANGUAGES and k not in self.languages]
            if self.languages and other:
                raise ValueError(
                    f"sector item {item.name!r} has keywords for {', '.join(other)}, not among "
                    "the languages of interest: its rules would read (and pay for) those posts"
                )
        return self

    def entries(self) -> list[tuple[EntryKind, WatchEntry]]:
        """The named entries (brands, competitors, partners, suppliers), in file order; the
        sector items are in `sector`."""
        groups: tuple[tuple[EntryKind, tuple[WatchEntry, ...]], ...] = (
            ("brand", self.brands),
            ("competitor", self.competitors),
            ("partner", self.partners),
            ("supplier", self.suppliers),
        )
        return [(kind, e) for kind, group in groups for e in group]

    def entry_names(self) -> list[tuple[EntryKind, str]]:
        """Kind and name of everything a post can be about: the named entries, then the sector
        items (kind "sector"). Names are unique, case- and accent-insensitively."""
        return [(k, e.name) for k, e in self.entries()] + [("sector", s.name) for s in self.sector]

    def entry_kind(self, name: str) -> EntryKind | None:
        return next((k for k, n in self.entry_names() if n == name), None)

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
