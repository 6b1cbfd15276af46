"""The enrich agent: raw posts in, enriched posts out, in batches taken from the stream.

Batches come from `stream.take_events()`, whose events are acknowledged only when the loop asks
for the next batch; the agent awaits the delivery of every output record (enriched post or
dead letter) before that, so an offset is committed only once its output is durable.

Values are read as raw bytes and parsed here, per record: a record that does not parse, or
whose enrichment fails, goes to the dead-letter topic with `topic[partition]@offset` and the
reason, and the batch goes on. If the outputs cannot be delivered even after retries, the
worker exits at once without acknowledging, so the batch is read again after a restart.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import faust
from faust.types import EventT

from processors import kafka_overrides
from processors.delivery import Delivery, Record, batch_or_exit, dead_letter
from processors.enrich.enricher import Enricher, enriched_json, enriched_post
from veille import metrics
from veille.models import DeadLetter, EnrichedPost, Post
from veille.settings import KafkaSettings, Settings
from veille.stats import StatusFile

logger = logging.getLogger(__name__)


def _where(ev: EventT) -> str:
    m = ev.message
    return f"{m.topic}[{m.partition}]@{m.offset}"


RECORD_OVERHEAD = 1024
"""Bytes kept for a record's key, headers and framing under Kafka's message size limit."""


def oversize(post: EnrichedPost, value: bytes, partition: int, k: KafkaSettings) -> DeadLetter:
    """The dead letter of an enriched post too large to produce (its first bytes kept)."""
    return DeadLetter(
        stage="process",
        source="kafka",
        reason=f"enriched post {post.id} is {len(value)} bytes, over the record limit of "
        f"{k.message_max_bytes} bytes (KAFKA_MESSAGE_MAX_BYTES)",
        payload=value,
        topic=k.raw_topic,
        partition=partition,
    )


Enriched = tuple[int, EnrichedPost, bytes]
"""(source partition, enriched post, its record's JSON)."""


def enriched_records(
    enriched: Sequence[Enriched], k: KafkaSettings
) -> tuple[list[Record], list[tuple[int, EnrichedPost]], list[DeadLetter]]:
    """The records of enriched posts, each on its raw partition (a partition stays in event-time
    order); the posts they carry; and the dead letters of those too large for Kafka."""
    records: list[Record] = []
    kept: list[tuple[int, EnrichedPost]] = []
    dead: list[DeadLetter] = []
    for part, p, value in enriched:
        if len(value) + RECORD_OVERHEAD > k.message_max_bytes:
            dead.append(oversize(p, value, part, k))
        else:
            records.append((k.enriched_topic, p.key, value, part))
            kept.append((part, p))
    return records, kept, dead


class EnrichBatches:
    """Turns a batch of raw events into enriched posts and dead letters (no I/O).

    A raw value is validated once, as a `Post`; the enriched post is built from it without
    validating again, and its JSON is the raw JSON with the enrichment appended
    (`enricher.enriched_json`): nothing is parsed or serialised twice."""

    def __init__(self, enricher: Enricher) -> None:
        self.enricher = enricher

    def __call__(self, events: Sequence[EventT]) -> tuple[list[Enriched], list[DeadLetter]]:
        """(source partition, enriched post, JSON) for each good event, and the dead letters."""
        posts: list[Post] = []
        kept: list[tuple[EventT, bytes]] = []
        dead: list[DeadLetter] = []
        for ev in events:
            try:
                value = ev.value
                if isinstance(value, str):
                    value = value.encode()
                elif not isinstance(value, bytes):
                    raise ValueError(f"expected bytes, got {type(value).__name__}")
                posts.append(Post.model_validate_json(value))
                kept.append((ev, value))
            except Exception as exc:
                logger.warning("dead-lettered %s: invalid post: %s", _where(ev), exc)
                dead.append(dead_letter(ev, f"invalid post: {exc}"))
        now = datetime.now(UTC)
        try:
            enrichments = self.enricher.enrichments(posts)
            return [
                (ev.message.partition, enriched_post(p, e, now), enriched_json(raw, e, now))
                for (ev, raw), p, e in zip(kept, posts, enrichments, strict=True)
            ], dead
        except Exception:
            logger.exception(
                "batch enrichment failed; enriching its %d posts one by one", len(posts)
            )
        enriched: list[Enriched] = []
        for (ev, raw), post in zip(kept, posts, strict=True):
            try:
                [one] = self.enricher.enrichments([post])
                enriched.append(
                    (
                        ev.message.partition,
                        enriched_post(post, one, now),
                        enriched_json(raw, one, now),
                    )
                )
            except Exception as exc:
                logger.warning("dead-lettered %s: enrichment failed: %r", _where(ev), exc)
                dead.append(dead_letter(ev, f"enrichment failed: {exc!r}"))
        return enriched, dead


def register(
    app: faust.App,
    settings: Settings,
    enricher: Enricher,
    status: StatusFile | None = None,
    feed: Callable[[Sequence[tuple[int, EnrichedPost]]], list[Record]] | None = None,
) -> None:
    """Declare the enrich agent and its status timer on `app`.

    `feed`, when given, turns each enriched batch into more records delivered with it (the
    alerts' observations: see `processors.alerts.agent.AlertFeed`).
    """
    k = settings.kafka
    v = settings.process
    status = status or StatusFile(None, "process")
    raw = app.topic(k.raw_topic, value_serializer="raw", key_serializer="raw")
    batches = EnrichBatches(enricher)
    delivery = Delivery(k, "veille-enrich")
    warmed: list[bool] = []
    counters: dict[str, Any] = {
        "consumed": 0,
        "enriched": 0,
        "dead_lettered": 0,
        "batches": 0,
        "enrich_posts_per_s": 0.0,
        "offset_gaps": 0,
        "hole_retries": 0,
    }

    @app.agent(raw, name="veille.enrich")
    async def enrich(stream: faust.StreamT[bytes]) -> None:
        take_events = stream.take_events  # type: ignore[attr-defined]
        async for events in take_events(v.batch_size, within=v.batch_window_s):
            with batch_or_exit("an enrich batch"):
                started = time.perf_counter()
                done, dead = batches(events)
                elapsed = time.perf_counter() - started
                records, enriched, too_large = enriched_records(done, k)
                dead += too_large
                records += [(k.dlq_topic, d.key, d.model_dump_json().encode()) for d in dead]
                if feed is not None:
                    records += feed(enriched)
                await delivery.send(records, "enriched posts")
                metrics.batch("process", len(events), elapsed)
                for d in dead:
                    metrics.dead_lettered("process", d.reason)
                counters["consumed"] += len(events)
                counters["enriched"] += len(enriched)
                counters["dead_lettered"] += len(dead)
                counters["batches"] += 1
                if elapsed > 0:
                    counters["enrich_posts_per_s"] = round(len(events) / elapsed)
                status.update(**counters)

    async def assigned(sender: Any, **kwargs: Any) -> None:
        # "running" once the consumer group has given this worker its partitions, so that
        # `veille up` starts the source when the processor can read it; the output producer
        # is connected first, so the first batch does not wait for it
        if not warmed:
            topics = [k.enriched_topic, k.dlq_topic, k.observations_topic]
            await asyncio.get_running_loop().run_in_executor(None, delivery.warm, topics)
            warmed.append(True)
        status.set_state("running", **counters)

    app.on_rebalance_complete.connect(assigned)  # type: ignore[arg-type]

    @app.timer(1.0)
    async def heartbeat() -> None:
        counters["offset_gaps"] = sum(kafka_overrides.gaps.values())
        counters["hole_retries"] = kafka_overrides.holes.retries
        status.update(force=True, **counters)
