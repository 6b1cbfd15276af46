"""watch.yaml: its schema and its loading.

watch.yaml declares brands (with aliases and official accounts), competitors, partners,
suppliers, topics (keywords, optionally per language) and the languages of interest.
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
