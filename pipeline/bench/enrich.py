"""Enrichment throughput per stage and backend, on one core: `veille bench enrich`.

The posts are synthetic (`ingest.synthetic`, fixed seed), parsed once; each stage is timed
alone over the same posts in batches of `batch` (as the processor takes them from the stream),
after one warm-up batch, and reported in posts per second. The process is pinned to one CPU
where the OS allows it, and numeric libraries to one thread, so the figures are per core.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from veille.models import Post
from veille.text import fold
from veille.watch import WatchConfig


def pin_one_core() -> int | None:
    """Pin this process to one CPU; returns it (None where the OS does not allow it)."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    try:
        cpu = max(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return cpu
    except (AttributeError, OSError):
        return None


def _rate(fn: Callable[[Sequence[Any]], Any], items: Sequence[Any], batch: int) -> float:
    fn(items[:batch])  # warm-up: caches, lazy loads
    started = time.perf_counter()
    for i in range(0, len(items), batch):
        fn(items[i : i + batch])
    return len(items) / (time.perf_counter() - started)


def run(
    watch: WatchConfig, posts: int = 5000, batch: int = 500, accurate_posts: int = 0, seed: int = 0
) -> dict[str, Any]:
    """posts/s of each stage; `accurate_posts` > 0 also times the accurate backend."""
    from ingest.synthetic import SyntheticSource
    from processors.enrich.enricher import Enricher
    from processors.enrich.intent import classify
    from processors.enrich.sentiment import get_backend

    cpu = pin_one_core()
    src = SyntheticSource(watch, rate=None, seed=seed, start_time=datetime(2026, 1, 1, tzinfo=UTC))
    from veille.models import parse_stream_payload

    items = [parse_stream_payload(p, source="synthetic") for p in src.generate(posts)]
    raw = [p.model_dump_json().encode() for p in items]
    enricher = Enricher(watch).load()
    texts = [p.text for p in items]
    x_langs = [p.x_lang for p in items]
    langs = enricher.language.detect_batch(texts, x_langs)
    fast = get_backend("fast")
    fast.load()
    labels = fast.predict(texts, langs)
    enriched = enricher.enrich(items)

    def topics(chunk: Sequence[Post]) -> None:
        for p in chunk:
            folded = fold(p.text)
            enricher.matcher.match_entries(
                folded,
                hashtags=p.hashtags,
                mentions=p.mentions,
                author=p.author.username,
                rule_tags=p.rule_tags,
            )
            enricher.matcher.match_topics(folded, "fr", hashtags=p.hashtags)

    def intents(chunk: Sequence[tuple[str, Any]]) -> None:
        for text, s in chunk:
            classify(fold(text), s.label, s.confidence)

    stages: dict[str, float] = {
        "parse": _rate(lambda c: [Post.model_validate_json(r) for r in c], raw, batch),
        "language": _rate(
            lambda c: enricher.language.detect_batch(c, [None] * len(c)), texts, batch
        ),
        "sentiment_fast": _rate(lambda c: fast.predict(c, langs[: len(c)]), texts, batch),
        "topics_entries": _rate(topics, items, batch),
        "intent": _rate(intents, list(zip(texts, labels, strict=True)), batch),
        "serialize": _rate(lambda c: [e.model_dump_json() for e in c], enriched, batch),
        "enrich_default": _rate(enricher.enrich, items, batch),
    }
    if accurate_posts > 0:
        accurate = get_backend("accurate")
        accurate.load()
        sample = texts[:accurate_posts]
        stages["sentiment_accurate"] = _rate(
            lambda c: accurate.predict(c, langs[: len(c)]), sample, min(batch, 64)
        )
    return {
        "posts": len(items),
        "batch": batch,
        "cpu": cpu,
        "posts_per_s": {k: round(v) for k, v in stages.items()},
    }
