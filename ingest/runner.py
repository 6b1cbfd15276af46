"""The ingest stage: read a source, validate each payload, produce it to the raw topic.

(Records a source makes itself — account readings, alerts, usage readings — go to their own
topics as they are.)

Each payload that parses becomes a `Post`, produced as JSON to the raw topic keyed by post id
(so every copy of a post lands in the same partition); `parse_stream_record` makes the key and
the JSON without building the `Post` object. A payload that does not parse goes to the
dead-letter topic with the reason and its original bytes. A record Kafka refused (after
librdkafka's retries) stops the run with `DeliveryError` within 256 records; `close()` flushes
the producer and raises `DeliveryError` if anything could not be delivered.

Records that carry a `position` are tracked until Kafka acknowledges them: the source hears
(`Source.acknowledged`) the position of the last record before which everything was acknowledged,
so a source that resumes never skips a record that was not stored by the broker.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ingest.base import Source, SourceRecord
from veille import metrics, records
from veille.kafka import Producer
from veille.models import DeadLetter, InvalidPayload, parse_stream_record
from veille.settings import Settings
from veille.stats import StatusFile

logger = logging.getLogger(__name__)


class Acknowledgements:
    """The positions of records in flight, and the last one before which all were acknowledged.

    `track()` each record in the order the source yielded it; the callback it returns marks it
    acknowledged (delivery reports come in any order across partitions). `advanced()` returns the
    position reached since its last call, if any.
    """

    def __init__(self) -> None:
        self._next = 0
        self._low = 0
        self._done: set[int] = set()
        self._positions: dict[int, Any] = {}
        self._reached: Any = None
        self._moved = False

    def track(self, position: Any) -> Callable[[], None]:
        seq = self._next
        self._next += 1
        self._positions[seq] = position
        return lambda: self._ack(seq)

    def _ack(self, seq: int) -> None:
        self._done.add(seq)
        while self._low in self._done:
            self._done.discard(self._low)
            self._reached = self._positions.pop(self._low)
            self._low += 1
            self._moved = True

    @property
    def pending(self) -> int:
        return self._next - self._low

    def advanced(self) -> tuple[bool, Any]:
        moved, self._moved = self._moved, False
        return moved, self._reached


class IngestRunner:
    """Moves records from one source to Kafka until the source ends or `stop()` is called."""

    def __init__(
        self, settings: Settings, source: Source, status: StatusFile | None = None
    ) -> None:
        self.settings = settings
        self.source = source
        self.status = status or StatusFile(None, "ingest")
        self.producer = Producer(settings.kafka, f"veille-ingest-{source.name}")
        self.counters: dict[str, Any] = {"ingested": 0, "produced": 0, "dead_lettered": 0}
        self.acks = Acknowledgements()

    def start(self) -> None:
        self.source.start()
        self.producer.start()
        # connect now: the first posts should not wait for the broker connection and metadata
        self.producer.warm([self.settings.kafka.raw_topic, self.settings.kafka.dlq_topic])

    def stop(self) -> None:
        self.source.stop()

    def run(self) -> dict[str, Any]:
        k = self.settings.kafka
        c = self.counters
        self.status.set_state("running", **c)
        for rec in self.source.records():
            acked = self._track(rec)
            if rec.kind != "post":  # readings and alerts made by the source itself
                self.producer.produce(
                    records.kind(rec.kind).topic(k), rec.payload, on_delivered=acked
                )
                c[f"{rec.kind}_records"] = c.get(f"{rec.kind}_records", 0) + 1
                continue
            c["ingested"] += 1
            try:
                key, value = parse_stream_record(rec.payload, source=self.source.name)
            except InvalidPayload as e:
                c["dead_lettered"] += 1
                logger.warning("dead-lettered origin=%s reason=%s", rec.origin, e)
                metrics.dead_lettered("ingest", str(e))
                self.producer.dead_letter(
                    k.dlq_topic,
                    DeadLetter(
                        stage="ingest", source=rec.origin, reason=str(e)[:2000], payload=rec.payload
                    ),
                    on_delivered=acked,
                )
            else:
                self.producer.produce(k.raw_topic, value, key=key, on_delivered=acked)
                c["produced"] += 1
            if c["ingested"] % 256 == 0:
                self.producer.poll(0)
                self._report_acknowledged()
                # a record Kafka refused (after librdkafka's retries, `message.timeout.ms`): stop
                # reading. The source's saved position stays before it, so that a restart (the
                # supervisor's) reads it again; moving on would lose it while looking healthy.
                self.producer.raise_failures()
                self.status.update(**c, **self.source.metrics())
        return c

    def _track(self, rec: SourceRecord) -> Callable[[], None] | None:
        return None if rec.position is None else self.acks.track(rec.position)

    def _report_acknowledged(self) -> None:
        moved, position = self.acks.advanced()
        if moved:
            self.source.acknowledged(position)

    def close(self) -> None:
        """Flush (raising `DeliveryError` if records were lost), tell the source how far Kafka
        acknowledged, and release the source (even when the flush failed)."""
        try:
            self.producer.close()
        finally:
            try:
                self._report_acknowledged()
                self.source.close()
            finally:
                self.status.update(force=True, **self.counters, **self.source.metrics())
