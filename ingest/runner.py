"""The ingest stage: read a source, validate each payload, produce it to the raw topic.

(Records a source makes itself — account readings, alerts, usage readings — go to their own
topics as they are.)

Each payload that parses becomes a `Post`, produced as JSON to the raw topic keyed by post id
(so every copy of a post lands in the same partition). A payload that does not parse goes to
the dead-letter topic with the reason and its original bytes. `close()` flushes the producer
and raises `DeliveryError` if anything could not be delivered.
"""

from __future__ import annotations

import logging
from typing import Any

from ingest.base import Source
from veille import metrics, records
from veille.kafka import Producer
from veille.models import DeadLetter, InvalidPayload, parse_stream_payload
from veille.settings import Settings
from veille.stats import StatusFile

logger = logging.getLogger(__name__)


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
            if rec.kind != "post":  # readings and alerts made by the source itself
                self.producer.produce(records.kind(rec.kind).topic(k), rec.payload)
                c[f"{rec.kind}_records"] = c.get(f"{rec.kind}_records", 0) + 1
                continue
            c["ingested"] += 1
            try:
                post = parse_stream_payload(rec.payload, source=self.source.name)
            except InvalidPayload as e:
                c["dead_lettered"] += 1
                logger.warning("dead-lettered origin=%s reason=%s", rec.origin, e)
                metrics.dead_lettered("ingest", str(e))
                self.producer.dead_letter(
                    k.dlq_topic,
                    DeadLetter(
                        stage="ingest", source=rec.origin, reason=str(e)[:2000], payload=rec.payload
                    ),
                )
            else:
                self.producer.produce(k.raw_topic, post.model_dump_json().encode(), key=post.key)
                c["produced"] += 1
            if c["ingested"] % 256 == 0:
                self.producer.poll(0)
                self.status.update(**c, **self.source.metrics())
        return c

    def close(self) -> None:
        """Flush (raising `DeliveryError` if records were lost) and release the source."""
        try:
            self.source.close()
        finally:
            self.producer.close()
            self.status.update(force=True, **self.counters, **self.source.metrics())
