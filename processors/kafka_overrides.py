"""Where the Faust worker does not use Faust's Kafka clients as Faust sets them up, and why.

Faust (faust-streaming) talks to Kafka through aiokafka. veille changes two things about that,
both here or named here, so that a reader of the processors finds every departure in one place:

1. **The consumer's fetch wait is capped** (`limit_fetch_wait`, applied by
   `processors.app.create_app`). Faust creates its `aiokafka.AIOKafkaConsumer` with
   `fetch_max_wait_ms=1500`, hard-coded: the broker may then hold a fetch back up to 1.5 s
   when fewer bytes than the minimum are waiting, which was most of the pipeline's latency.
   The override replaces aiokafka's consumer class, process-wide, by a subclass that caps the
   value at `KAFKA_FETCH_WAIT_MAX_MS`; everything else Faust passes goes through unchanged.
   This process runs one Faust app, so patching the class (once: it is idempotent) is safe.

2. **The agents' output goes through confluent-kafka, not Faust's producer**
   (`processors.delivery.Delivery`, one per agent: `veille-enrich`, `veille-alerts`). Each batch's
   records (enriched posts, dead letters, observations, alerts) are queued on a
   `veille.kafka.Producer` (librdkafka: acks=all, idempotence, the settings' compression and
   linger) and flushed, off the event loop, before the batch is acknowledged. Why: Faust's
   `topic.send()` costs a future and a task per record (the naive reference,
   `pipeline.bench.naive_faust`, measures that way); aiokafka's idempotent producer fails on the
   local broker, librdkafka's works; and a flush with checked delivery reports is what lets the
   agents acknowledge only what is durable. Faust's own aiokafka producer still exists (Faust
   starts it) and keeps `create_app`'s settings (acks=-1, compression, linger), but the veille
   agents send nothing through it.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from veille.kafka import Holes

logger = logging.getLogger(__name__)


def limit_fetch_wait(max_wait_ms: int) -> None:
    """Cap the `fetch_max_wait_ms` of every aiokafka consumer created from now on in this
    process at `max_wait_ms` (see the module docstring, 1). Idempotent: a second call, whatever
    its value, changes nothing."""
    import aiokafka

    base = aiokafka.AIOKafkaConsumer
    if getattr(base, "_veille_capped", False):
        return

    class CappedConsumer(base):  # type: ignore[misc, valid-type]
        _veille_capped = True

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["fetch_max_wait_ms"] = min(kwargs.get("fetch_max_wait_ms", 500), max_wait_ms)
            super().__init__(*args, **kwargs)

    aiokafka.AIOKafkaConsumer = CappedConsumer
    logger.debug("aiokafka consumers: fetch_max_wait_ms capped at %d", max_wait_ms)


gaps: Counter[str] = Counter()
"""Offsets skipped by a fetch, per topic, since the process started (see the docstring, 3)."""


def report_gaps() -> None:
    """Make every Faust consumer of this process warn about, and count in `gaps`, the offsets a
    fetch skipped (see the module docstring, 3). Idempotent."""
    from faust.transport.consumer import Consumer

    if getattr(Consumer, "_veille_gaps", False):
        return
    add_gap = Consumer._add_gap

    async def _add_gap(self: Any, tp: Any, offset_from: int, offset_to: int) -> None:
        # Faust passes the first offset after the last read and the offset just read
        missing = offset_to - offset_from
        if missing > 0:
            gaps[tp.topic] += missing
            logger.warning(
                "offsets %d-%d of %s[%d] were never fetched: the broker skipped them",
                offset_from,
                offset_to - 1,
                tp.topic,
                tp.partition,
            )
        await add_gap(self, tp, offset_from, offset_to)

    Consumer._add_gap = _add_gap  # type: ignore[method-assign]
    Consumer._veille_gaps = True  # type: ignore[attr-defined]


holes = Holes()
"""The holes the workers' fetches met, and how often a partition was read again (`retries`)."""


class _UpToHole:
    """aiokafka's records of one fetch (`has_next`/`next_batch`), ending before a hole.

    Whether a batch after a hole is handed over is decided once per batch: aiokafka asks
    `has_next()` then `next_batch()`, and `Holes.retry` asked twice could answer twice
    differently (a hole accepted is forgotten, so a second question starts a new wait)."""

    def __init__(self, records: Any, tp: Any, fetch_offset: int) -> None:
        self._records = records
        self._tp = tp
        self._expected = fetch_offset
        self._next: Any = None
        self._verdict = False

    def has_next(self) -> bool:
        if self._next is None:
            if not self._records.has_next():
                return False
            self._next = self._records.next_batch()
            hole = self._next.base_offset > self._expected
            self._verdict = not (hole and holes.retry(self._tp, self._expected))
            if not self._verdict:
                logger.debug(
                    "%s: offset %d not fetched yet; reading again", self._tp, self._expected
                )
        return self._verdict

    def next_batch(self) -> Any:
        if not self.has_next():
            return None
        batch, self._next = self._next, None
        self._expected = max(self._expected, batch.next_offset)
        return batch


def wait_for_holes() -> None:
    """Make aiokafka's fetched records end before the first offset a fetch skipped, so that it
    is fetched again (see the module docstring, 4). Idempotent."""
    from aiokafka.consumer import fetcher

    base = fetcher.PartitionRecords
    if getattr(base, "_veille_holes", False):
        return

    class ContiguousRecords(base):  # type: ignore[misc, valid-type]
        _veille_holes = True

        def __init__(self, tp: Any, records: Any, aborted: Any, fetch_offset: int, *a: Any):
            super().__init__(tp, records, aborted, fetch_offset, *a)
            # read by the records' generator when first iterated, so replacing it here holds
            self._records = _UpToHole(records, tp, fetch_offset)

    fetcher.PartitionRecords = ContiguousRecords
