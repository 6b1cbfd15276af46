"""The synthetic source's phrases: data files of `ingest.synthetic`, read once per process.

`data/phrases/<lang>.json` holds one language's phrases (`phrases()`), `data/events.json` the
scenario events' (`event_phrases()`); both are package data, read with `importlib.resources`.

Fields of the templates: {b} the entry (name or alias), {a} its official account (@handle),
{o} another entry (a competitor of a brand, a brand otherwise), {m} the main brand, {u}/{sig}
the customer and the signature of an official reply, {num} {pct} {year} numbers, {kw}/{Kw} a
topic keyword (capitalised), any other: a list of the same language file (`act`, `prob`,
`dur`, `place`, `neg`, `posa`...). Event templates add {p}, the trending product's name, and
{tag}, its hashtag; `{w}` in the crisis hashtags is the brand's short name. Sentiment words are
plainly positive or negative in their language.

Promises: the same files give the same values in the same order (the generator's output for a
seed depends on it); the values are tuples, shared by every caller, never to be changed. A
missing or malformed file raises `FileNotFoundError` or `ValueError` on the first call.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any, NamedTuple, get_args

from ingest.synthetic.scenarios import Style

LANGUAGES: tuple[str, ...] = ("fr", "en", "es", "de")
"""The languages the synthetic source writes, in the order it draws them (one file each)."""


class EventPhrases(NamedTuple):
    """The phrases of the scenarios' events (`data/events.json`)."""

    crisis_tags: dict[str, str]
    """A crisis's hashtags: `all` for every language, then one per language."""
    products: tuple[str, ...]
    """Names of the trending scenario's new product (one is picked per seed)."""
    crisis: dict[str, tuple[str, ...]]
    """Outraged posts of a crisis burst (style complaint), per language."""
    phish: dict[str, tuple[str, ...]]
    """An impostor's replies to customers asking for personal details by DM (style care)."""
    trend: dict[str, tuple[tuple[Style, str], ...]]
    """Posts about the trending scenario's new product, per language: (style, template)."""


def _read(*path: str) -> Any:
    entry = resources.files("ingest.synthetic").joinpath("data", *path)
    try:
        return json.loads(entry.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"ingest/synthetic/data/{'/'.join(path)}: {exc}") from exc


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{where}: expected a list of strings")
    return tuple(value)


def _language(lang: str) -> dict[str, tuple[Any, ...]]:
    data = _read("phrases", f"{lang}.json")
    if not isinstance(data, dict):
        raise ValueError(f"phrases/{lang}.json: expected an object of lists")
    return {
        key: (
            tuple(_strings(pair, f"phrases/{lang}.json {key}") for pair in value)
            if key == "media"  # (handle, display name) of the news media
            else _strings(value, f"phrases/{lang}.json {key}")
        )
        for key, value in data.items()
    }


@functools.cache
def phrases() -> dict[str, dict[str, tuple[Any, ...]]]:
    """Every language's phrases, by language (in `LANGUAGES` order), then by kind of phrase."""
    return {lang: _language(lang) for lang in LANGUAGES}


@functools.cache
def event_phrases() -> EventPhrases:
    """The scenario events' phrases; raises `ValueError` for a trend post of an unknown style."""
    data = _read("events.json")
    styles = get_args(Style)
    trend: dict[str, tuple[tuple[Style, str], ...]] = {}
    for lang, pairs in data["trend"].items():
        trend[lang] = tuple((style, text) for style, text in pairs)
        if any(style not in styles for style, _ in trend[lang]):
            raise ValueError(f"events.json trend {lang}: styles must be among {styles}")
    return EventPhrases(
        crisis_tags=dict(data["crisis_tags"]),
        products=_strings(data["products"], "events.json products"),
        crisis={k: _strings(v, f"events.json crisis {k}") for k, v in data["crisis"].items()},
        phish={k: _strings(v, f"events.json phish {k}") for k, v in data["phish"].items()},
        trend=trend,
    )
