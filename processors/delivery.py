"""Producing a batch's output from a Faust agent, durably, before the batch is acknowledged.

`Delivery.send()` queues every record on a confluent-kafka producer (acks=all, idempotent: the
settings' durable configuration; C-speed, where Faust's own producer costs a future and a task
per record) and waits, off the event loop, until every delivery is confirmed. If Kafka keeps
refusing after `attempts` tries it exits the worker at once, without acknowledging: the batch is
read again after a restart (at-least-once; storage is idempotent), rather than acknowledged and
lost. Why the agents bypass Faust's own producer: `processors.kafka_overrides`.

Why "exits at once": an agent reads batches with Faust's `take_events`, which acknowledges every
event of a batch when the agent's loop leaves the batch *for any reason* (its `finally:`), an
exception or a cancellation included. So nothing may leave a batch before its output is
delivered: `send()` finishes its delivery even when the agent is cancelled meanwhile (a worker
stopping), and `batch_or_exit()` turns any other error in a batch into an exit of the worker
with code 75 (the supervisor starts it again; the batch is read again).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from confluent_kafka import KafkaException
from faust.types import EventT

from veille.kafka import DeliveryError, Producer
from veille.models import DeadLetter
from veille.settings import KafkaSettings

logger = logging.getLogger(__name__)

Record = tuple[str, bytes | None, bytes] | tuple[str, bytes | None, bytes, int]
"""(topic name, key, value[, partition])."""

EXIT_UNACKNOWLEDGED = 75
"""The worker's exit code when it stops without acknowledging a batch (EX_TEMPFAIL)."""

_RETRIED = (DeliveryError, KafkaException, BufferError, SystemError)
"""Delivery failures worth a resend: refused or timed-out records, a full local queue, and the
`SystemError` confluent-kafka raises from `flush()` when a delivery callback failed (what was
delivered is then unknown: everything is sent again; duplicates are harmless downstream)."""


def dead_letter(ev: EventT, reason: str) -> DeadLetter:
    """The dead letter of an event this worker cannot use, with its bytes and where it was."""
    m = ev.message
    value = ev.value if isinstance(ev.value, bytes) else str(ev.value).encode()
    return DeadLetter(
        stage="process",
        source="kafka",
        reason=reason[:2000],
        payload=value,
        topic=m.topic,
        partition=m.partition,
        offset=m.offset,
    )


def exit_unacknowledged(what: str) -> None:
    """Exit the worker now: no `finally`, no Faust shutdown, so no acknowledgement and no commit
    of the batch being processed."""
    logger.critical("%s; exiting without acknowledging the batch", what)
    for handler in logging.getLogger().handlers:
        handler.flush()
    os._exit(EXIT_UNACKNOWLEDGED)


@contextmanager
def batch_or_exit(what: str) -> Iterator[None]:
    """Run one batch of an agent; any error exits the worker unacknowledged (module docstring)."""
    try:
        yield
    except Exception as e:
        logger.exception("%s failed: %r", what, e)
        exit_unacknowledged(f"{what} failed")


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
        """Deliver every record, or exit the worker (see the module docstring). A cancellation
        meanwhile waits for the delivery to end, then goes on."""
        if not records:
            return
        task = asyncio.ensure_future(self._deliver(records, what))
        cancelled = False
        while not task.done():
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                cancelled = True  # the batch is acknowledged once this returns: deliver first
        task.result()
        if cancelled:
            raise asyncio.CancelledError

    async def _deliver(self, records: Sequence[Record], what: str) -> None:
        self.start()
        loop = asyncio.get_running_loop()
        for attempt in range(1, self.attempts + 1):
            try:
                await loop.run_in_executor(None, self._send_and_flush, records)
                return
            except _RETRIED as e:  # resend everything: duplicates are harmless downstream
                logger.error(
                    "delivery of %s failed (attempt %d/%d): %r", what, attempt, self.attempts, e
                )
                await asyncio.sleep(min(2.0**attempt, 30.0))
        exit_unacknowledged(f"cannot deliver {what}")

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close()
            self._producer = None
