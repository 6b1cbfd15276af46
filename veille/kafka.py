"""Kafka plumbing shared by the stages: a producer whose deliveries are checked, topic creation.

`Producer` wraps confluent-kafka's producer with the durable configuration of
`KafkaSettings.producer_config` (acks=all, idempotence, compression), waits for room when its
queue is full, counts deliveries, and makes `flush()` raise `DeliveryError` when any record
could not be delivered: a caller that flushed without error knows its records are durable.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message
from confluent_kafka import Producer as _Producer
from confluent_kafka.admin import AdminClient, NewTopic

from veille.models import DeadLetter
from veille.settings import KafkaSettings

logger = logging.getLogger(__name__)

HOLE_WAIT_S = 30.0
"""How long a consumer reads a partition again from the first offset a fetch skipped before it
counts those records lost (`Holes`)."""


class DeliveryError(RuntimeError):
    """Records could not be delivered to Kafka (after librdkafka's own retries)."""


class Holes:
    """Whether a consumer reads a partition again from an offset that a fetch skipped.

    On veille's topics (no transactions, no compaction) a fetch answering with records past the
    offset asked for means records the broker has numbered but not handed over. The local
    broker does that for a moment: Tansu's S3 engine numbers a batch (moves the partition's
    watermark) before it writes the batch's object, and lists the objects on every fetch, so
    while two producers write to one partition a fetch can see a later batch before an earlier
    one is written (docs/local-broker.md). Reading again from the first missing offset gets it
    once written. A hole that lasts `wait_s` is accepted, and its records counted lost by the
    caller (a broker that deleted them, past its retention).
    """

    def __init__(self, wait_s: float = HOLE_WAIT_S) -> None:
        self.wait_s = wait_s
        self._first_seen: dict[tuple[Any, int], float] = {}
        self.retries = 0

    def retry(self, partition: Any, offset: int, now: float | None = None) -> bool:
        """True: read `partition` again from `offset`, the first one skipped; False: the hole
        has lasted `wait_s`, accept it."""
        now = time.monotonic() if now is None else now
        first = self._first_seen.setdefault((partition, offset), now)
        if now - first < self.wait_s:
            self.retries += 1
            if len(self._first_seen) > 1000:  # holes filled long ago
                for key, seen in list(self._first_seen.items()):
                    if now - seen > 2 * self.wait_s:
                        del self._first_seen[key]
            return True
        del self._first_seen[(partition, offset)]
        return False


class Producer:
    """A durable producer. Not thread-safe; one per stage. `close()` flushes."""

    def __init__(self, settings: KafkaSettings, client_id: str) -> None:
        self._conf = settings.producer_config(client_id)
        self._producer: _Producer | None = None
        self.delivered = 0
        self.failed = 0
        self._errors: list[str] = []

    def start(self) -> None:
        self._producer = _Producer(self._conf)

    @property
    def _p(self) -> _Producer:
        if self._producer is None:
            raise RuntimeError("Producer.start() was not called")
        return self._producer

    def warm(self, topics: Sequence[str], timeout: float = 5.0) -> None:
        """Connect and fetch the topics' metadata now, so that the first records sent do not
        wait for them. A broker that does not answer in time is only logged."""
        for topic in topics:
            try:
                self._p.list_topics(topic, timeout=timeout)
            except KafkaException as e:
                logger.warning("no metadata yet topic=%s error=%s", topic, e)

    def _on_delivery(self, err: KafkaError | None, msg: Message) -> None:
        if err is None:
            self.delivered += 1
            return
        self.failed += 1
        if len(self._errors) < 10:
            self._errors.append(f"{msg.topic()}: {err.str()}")
        logger.error("delivery failed topic=%s key=%r error=%s", msg.topic(), msg.key(), err.str())

    def produce(
        self,
        topic: str,
        value: bytes,
        key: bytes | None = None,
        partition: int | None = None,
        on_delivered: Callable[[], None] | None = None,
    ) -> None:
        """Queue one record; blocks (serving delivery reports) while the local queue is full.
        `on_delivered` is called (from `poll()`/`flush()`) once the broker acknowledged it."""
        report = self._on_delivery
        if on_delivered is not None:

            def report(err: KafkaError | None, msg: Message) -> None:
                self._on_delivery(err, msg)
                if err is None:
                    on_delivered()

        while True:
            try:
                if partition is None:
                    self._p.produce(topic, value=value, key=key, on_delivery=report)
                else:
                    self._p.produce(
                        topic, value=value, key=key, partition=partition, on_delivery=report
                    )
                return
            except BufferError:
                self._p.poll(0.05)
            except KafkaException as e:
                raise DeliveryError(f"cannot produce to {topic}: {e}") from None

    def dead_letter(
        self, topic: str, record: DeadLetter, on_delivered: Callable[[], None] | None = None
    ) -> None:
        self.produce(
            topic, record.model_dump_json().encode(), key=record.key, on_delivered=on_delivered
        )

    def poll(self, timeout: float = 0.0) -> None:
        """Serve delivery reports."""
        self._p.poll(timeout)

    def flush(self, timeout: float = 60.0) -> None:
        """Wait for every queued record. Raises `DeliveryError` if any was not delivered (and
        forgets those failures: a caller that sends them again flushes anew)."""
        remaining = self._p.flush(timeout)
        if remaining:
            raise DeliveryError(f"{remaining} records still undelivered after {timeout:.0f}s")
        self.raise_failures()

    def raise_failures(self) -> None:
        """Raise `DeliveryError` if a record was refused since the last call (see `flush`)."""
        if self.failed:
            errors, self._errors = "; ".join(self._errors), []
            failed, self.failed = self.failed, 0
            raise DeliveryError(f"{failed} records were not delivered: {errors}")

    def close(self, timeout: float = 60.0) -> None:
        """Flush and release; idempotent."""
        if self._producer is not None:
            try:
                self.flush(timeout)
            finally:
                self._producer = None


def ensure_topics(settings: KafkaSettings, topics: list[str], timeout: float = 30.0) -> None:
    """Create the topics that do not exist yet (partitions and replication from settings)."""
    admin = AdminClient(settings.admin_config())
    deadline = time.monotonic() + timeout
    while True:
        try:
            existing = set(admin.list_topics(timeout=5).topics)
            break
        except KafkaException as e:
            if time.monotonic() > deadline:
                raise DeliveryError(f"Kafka at {settings.servers} is not reachable: {e}") from None
            time.sleep(0.5)
    missing = [t for t in topics if t not in existing]
    if not missing:
        return
    futures = admin.create_topics(
        [NewTopic(t, settings.partitions, settings.replication_factor) for t in missing]
    )
    for topic, fut in futures.items():
        try:
            fut.result()
            logger.info("created topic=%s partitions=%d", topic, settings.partitions)
        except KafkaException as e:
            if e.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise DeliveryError(f"cannot create topic {topic}: {e}") from None


def describe(msg: Any) -> str:
    """`topic[partition]@offset` of a message, for logs and dead letters."""
    return f"{msg.topic()}[{msg.partition()}]@{msg.offset()}"
