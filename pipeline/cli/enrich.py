"""`veille enrich`: enrichment of texts, without Kafka (one JSON object per input line)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Annotated, TextIO

import typer

from pipeline.cli.common import WATCH_HELP, errors, settings, watch_config

BATCH = 512


def _texts(fh: TextIO) -> Iterator[tuple[str, str | None]]:
    """(text, X lang) per line, as they are read: a JSON object gives `text` (and `lang` when it
    is a string); any other line, a JSON that is not such an object included, is the text."""
    for line in fh:
        line = line.rstrip("\n")
        if line.startswith("{"):
            try:
                obj = json.loads(line)
            except (ValueError, RecursionError):  # not JSON, or nested beyond reason
                obj = None
            if isinstance(obj, dict) and isinstance(obj.get("text"), str):
                lang = obj.get("lang")
                yield obj["text"], lang if isinstance(lang, str) else None
                continue
        yield line, None


def enrich(
    file: Annotated[
        Path | None,
        typer.Argument(
            help="texts, one per line (or JSON lines with a `text` field); default: stdin"
        ),
    ] = None,
    sentiment: Annotated[
        str | None, typer.Option(help="sentiment backend: fast|accurate|transformer")
    ] = None,
    watch: Annotated[Path | None, typer.Option(help=WATCH_HELP)] = None,
) -> None:
    """Enrich texts: language, sentiment, topics, intent, watch entries; JSON lines out.

    Example: echo "@orbital_care toujours pas de réseau, c'est inadmissible" | veille enrich
    """
    from processors.enrich.enricher import Enricher
    from processors.enrich.linear import ModelFileError

    s = settings(watch=watch)
    enricher = Enricher(watch_config(s), sentiment or s.sentiment.backend)
    with errors(FileNotFoundError, ValueError, ModelFileError):
        enricher.load()
        fh = file.open(encoding="utf-8", errors="replace") if file else sys.stdin
    out = sys.stdout
    try:  # in batches as the lines come: a long input streams, and a late bad line loses nothing
        texts = _texts(fh)
        while chunk := list(islice(texts, BATCH)):
            results = enricher.enrich_texts([t for t, _ in chunk], [lang for _, lang in chunk])
            for (text, _), r in zip(chunk, results, strict=True):
                out.write(json.dumps({"text": text, **r.as_dict()}, ensure_ascii=False) + "\n")
            out.flush()
    finally:
        if file:
            fh.close()
