"""Producing a batch's output from a Faust agent, durably, before the batch is acknowledged.

`Delivery.send()` queues every record on a confluent-kafka producer (acks=all, idempotent: the
settings' durable configuration; C-speed, where Faust's own producer costs a future and a task
per record) and waits, off the event loop, until every delivery is confirmed. If Kafka keeps
refusing after `attempts` tries it exits the worker at once, without acknowledging: the batch is
read again after a restart (at-least-once; storage is idempotent), rather than acknowledged and
lost. Why the agents bypass Faust's own producer: `processors.kafka_overrides`.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Sequence

from veille.kafka import DeliveryError, Producer
from veille.settings import KafkaSettings

logger = logging.getLogger(__name__)

Record = tuple[str, bytes | None, bytes] | tuple[str, bytes | None, bytes, int]
"""(topic name, key, value[, partition])."""


class Delivery:
    """One durable producer per worker, shared by its agents (one batch at a time each)."""

    def __init__(
        self, settings: KafkaSettings, client_id: str = "veille-process", attempts: int = 5
    ) -> None:
        self.settings = settings
        self.client_id = client_id
        self.attempts = attempts
        self._producer: Producer | None = None

    def start(self) -> None:
        if self._producer is None:
            self._producer = Producer(self.settings, self.client_id)
            self._producer.start()

    def warm(self, topics: Sequence[str]) -> None:
        """Start the producer and fetch the topics' metadata (blocking; see `Producer.warm`)."""
        self.start()
        assert self._producer is not None
        self._producer.warm(topics)

    def _send_and_flush(self, records: Sequence[Record]) -> None:
        assert self._producer is not None
        for r in records:
            self._producer.produce(r[0], r[2], key=r[1], partition=r[3] if len(r) > 3 else None)
        self._producer.flush(60)

    async def send(self, records: Sequence[Record], what: str) -> None:
        """Deliver every record, or exit the worker (see the module docstring)."""
        if not records:
            return
        self.start()
        loop = asyncio.get_running_loop()
        for attempt in range(1, self.attempts + 1):
            try:
                await loop.run_in_executor(None, self._send_and_flush, records)
                return
            except DeliveryError as e:  # resend everything: duplicates are harmless downstream
                logger.error(
                    "delivery of %s failed (attempt %d/%d): %s", what, attempt, self.attempts, e
                )
                await asyncio.sleep(min(2.0**attempt, 30.0))
        logger.critical("cannot deliver %s; exiting without acknowledging the batch", what)
        os._exit(75)

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close()
            self._producer = None
