"""The sink stage: consume enriched posts and dead letters, write them in batches, then commit.

Offsets are committed only after ClickHouse accepted the batch that contains them, so a crash
at any point loses nothing (the uncommitted records are read again; writes are idempotent).
When ClickHouse is unavailable the runner pauses consumption, keeps its buffer and offsets,
and retries the same batch with exponential backoff; an error that cannot heal stops it.

An enriched record that does not parse is produced to the dead-letter topic (it comes back
through this same stage into `dead_letters`); a malformed dead letter is stored as one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition
from pydantic import ValidationError

from sinks.base import FlushResult, Sink, SinkUnavailable
from sinks.notify import WebhookNotifier
from veille import metrics, records
from veille.kafka import DeliveryError, Holes, Producer, describe
from veille.models import Alert, DeadLetter
from veille.settings import Settings
from veille.stats import StatusFile

logger = logging.getLogger(__name__)


# Commit errors that a later try can heal: the group coordinator moving, restarting or
# rebalancing, timeouts. Anything else stops the stage.
_COMMIT_RETRY_CODES = {
    KafkaError._WAIT_COORD,
    KafkaError._TIMED_OUT,
    KafkaError._TRANSPORT,
    KafkaError._ALL_BROKERS_DOWN,
    KafkaError.COORDINATOR_NOT_AVAILABLE,
    KafkaError.NOT_COORDINATOR,
    KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
    KafkaError.REBALANCE_IN_PROGRESS,
    KafkaError.REQUEST_TIMED_OUT,
    KafkaError.ILLEGAL_GENERATION,
    KafkaError.UNKNOWN_MEMBER_ID,
}


def _retriable_commit_error(exc: KafkaException) -> bool:
    err = exc.args[0] if exc.args else None
    return isinstance(err, KafkaError) and (err.retriable() or err.code() in _COMMIT_RETRY_CODES)


class SinkRunner:
    """Runs one sink consumer until `stop()`; `close()` flushes, commits and releases."""

    def __init__(
        self,
        settings: Settings,
        sink: Sink,
        status: StatusFile | None = None,
        notifier: WebhookNotifier | None = None,
    ) -> None:
        self.settings = settings
        self.sink = sink
        self.status = status or StatusFile(None, "sink")
        self.notifier = notifier
        self._alerts: list[Alert] = []  # notified once the batch holding them is written
        self.batch_rows = settings.sink.batch_rows
        self.interval = settings.sink.flush_interval_s
        self._consumer: Consumer | None = None
        self._producer: Producer | None = None
        self._offsets: dict[tuple[str, int], int] = {}
        # the offset after the last one read, per partition since it was assigned: a record
        # further on means the broker skipped some (told, counted in `offset_gaps`)
        self._next: dict[tuple[str, int], int] = {}
        self._holes = Holes()
        self._dead_out: list[DeadLetter] = []  # produced by this batch; committed past once durable
        self._first_pending_at: float | None = None
        self._stopping = False
        self._retry_at = 0.0
        self._backoff = 0.0
        self._paused = False
        self.lag = metrics.KafkaLag()  # from librdkafka's statistics, for /metrics
        self.counters: dict[str, Any] = {
            # posts and dead_letters count rows written (and committed), not merely consumed
            "consumed": 0,
            "posts": 0,
            "dead_letters": 0,
            "alerts": 0,
            "rejected": 0,
            "refused": 0,
            "inserts": 0,
            "commits": 0,
            "retries": 0,
            "backoff_s": 0.0,
            "insert_rows_per_s": 0.0,
            "offset_gaps": 0,
            "hole_retries": 0,
            "rollup_rebuilt": 0,
        }

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Start the store (waiting while it is unavailable, as the run does: a sink started
        again while ClickHouse is away must not crash-loop), then the Kafka clients."""
        k = self.settings.kafka
        backoff = 0.0
        while True:
            try:
                self.sink.start()
                break
            except SinkUnavailable as e:
                if self._stopping:
                    raise
                backoff = self._next_backoff(backoff, e.retry_after)
                self.counters["retries"] += 1
                self.status.update(force=True, **self.counters)
                logger.warning("store unavailable at start: %s; retrying in %.1fs", e, backoff)
                deadline = time.monotonic() + backoff
                while time.monotonic() < deadline and not self._stopping:
                    time.sleep(0.1)
        self._producer = Producer(k, "veille-sink")
        self._producer.start()
        self._consumer = Consumer(
            {
                **k.consumer_config(self.settings.sink.group, "veille-sink"),
                **self.lag.config(),
            }
        )
        # every stored kind but dead letters, which are read on their own terms (below)
        self._parsers: dict[str, Callable[[bytes], Any]] = {
            kind.topic(k): kind.parse for kind in records.STORED if kind.name != "dead_letter"
        }
        self._consumer.subscribe(
            [*self._parsers, k.dlq_topic],
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )

    def stop(self) -> None:
        self._stopping = True

    def run(self) -> None:
        """Consume and write until `stop()`. Raises `SinkError` on errors that cannot heal."""
        assert self._consumer is not None, "start() first"
        self.status.update(force=True, **self.counters)  # "running" once partitions are assigned
        while not self._stopping:
            if self._retry_at:
                self._consumer.poll(0.1)  # paused: keeps the group membership alive
                if self._retry_at and time.monotonic() >= self._retry_at:  # (a poll may drop)
                    self._flush_and_commit()
                continue
            room = max(1, self.batch_rows - self.sink.pending)
            msgs = self._consumer.consume(num_messages=min(room, 5000), timeout=0.2)
            for msg in msgs:
                self._handle(msg)
            if self._due():
                self._flush_and_commit()
            self.status.update(**self.counters)

    def close(self, timeout: float = 30.0) -> None:
        """Write and commit what is buffered (retrying up to `timeout` s), then release."""
        deadline = time.monotonic() + timeout
        try:
            while self._offsets and time.monotonic() < deadline:
                if self._flush_and_commit():
                    break
                time.sleep(max(0.0, min(self._retry_at - time.monotonic(), 1.0)))
            if self._offsets:
                logger.error(
                    "stopping with %d records unwritten; they are not committed and will be "
                    "read again",
                    self.sink.pending,
                )
        finally:
            if self._consumer is not None:
                self._consumer.close()
                self._consumer = None
            if self._producer is not None:
                self._producer.close()
                self._producer = None
            self.status.update(force=True, **self.counters)

    # -- records --------------------------------------------------------------------------

    def _handle(self, msg: Message) -> None:
        err = msg.error()
        if err is not None:
            if err.code() == KafkaError._PARTITION_EOF:
                return
            if err.fatal():
                raise KafkaException(err)
            logger.warning("consumer error: %s", err.str())
            return
        k = self.settings.kafka
        topic, value = msg.topic() or "", msg.value() or b""
        tp, offset = (topic, msg.partition() or 0), msg.offset() or 0
        expected = self._next.get(tp, offset)
        if offset > expected and self._holes.retry(tp, expected):
            # offsets skipped, most likely not written yet (`veille.kafka.Holes`): read again
            assert self._consumer is not None
            self._consumer.seek(TopicPartition(topic, tp[1], expected))
            self.counters["hole_retries"] = self._holes.retries
            return
        self.counters["consumed"] += 1
        if offset > expected:
            self.counters["offset_gaps"] += offset - expected
            logger.warning(
                "offsets %d-%d of %s[%d] were never fetched: the broker skipped them",
                expected,
                offset - 1,
                *tp,
            )
        self._next[tp] = self._offsets[tp] = offset + 1
        if self._first_pending_at is None:
            self._first_pending_at = time.monotonic()
        if topic == k.dlq_topic:
            try:
                self.sink.add(DeadLetter.from_json(value))
            except (ValidationError, ValueError) as e:
                metrics.dead_lettered("sink", "malformed dead letter")
                self.sink.add(self._dead(msg, f"malformed dead letter: {e}"))
            return
        try:
            record = self._parsers[topic](value)
            self.sink.add(record)
            if isinstance(record, Alert) and self.notifier is not None:
                self._alerts.append(record)
        except (ValidationError, ValueError) as e:
            self.counters["rejected"] += 1
            what = "enriched post" if topic == k.enriched_topic else "record"
            metrics.dead_lettered("sink", f"invalid {what}")
            logger.warning("rejected %s at %s: %s", what, describe(msg), e)
            assert self._producer is not None
            dead = self._dead(msg, f"invalid {what}: {e}")
            self._dead_out.append(dead)
            self._producer.dead_letter(k.dlq_topic, dead)

    @staticmethod
    def _dead(msg: Message, reason: str) -> DeadLetter:
        return DeadLetter(
            stage="sink",
            source="kafka",
            reason=reason[:2000],
            payload=msg.value() or b"",
            topic=msg.topic(),
            partition=msg.partition(),
            offset=msg.offset(),
        )

    # -- batches --------------------------------------------------------------------------

    def _due(self) -> bool:
        if not self._offsets:
            return False
        if self.sink.pending >= self.batch_rows:
            return True
        assert self._first_pending_at is not None
        return time.monotonic() - self._first_pending_at >= self.interval

    def _flush_and_commit(self) -> bool:
        """Write the batch then commit its offsets. False (and a retry planned) when the store
        is unavailable; raises `SinkError` when it cannot heal."""
        assert self._consumer is not None and self._producer is not None
        if not self._dead_letters_durable():
            return False
        try:
            result = self.sink.flush()
        except SinkUnavailable as e:
            self._retry_later(f"sink unavailable: {e}", e.retry_after)
            return False
        self._count_written(result)
        if result.refused:  # rows ClickHouse refused one by one: dead letters, durable first
            for record, reason in result.refused:
                self._refused(record, reason)
            if not self._dead_letters_durable():
                return False
        offsets = [TopicPartition(t, p, o) for (t, p), o in self._offsets.items()]
        try:
            if offsets:  # none when the partitions were taken away meanwhile
                self._consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as e:
            # the rows are written; committing again later is safe (writes are idempotent)
            if not _retriable_commit_error(e):
                raise
            self._retry_later(f"commit failed: {e}", 0.5)
            return False
        self._offsets.clear()
        self._dead_out.clear()
        self._first_pending_at = None
        self._retry_at = 0.0
        self._backoff = 0.0
        if self._alerts and self.notifier is not None:
            self.notifier.submit(self._alerts)
        self._alerts = []
        if self._paused:
            self._consumer.resume(self._consumer.assignment())
            self._paused = False
        self.counters["commits"] += 1
        self.counters["backoff_s"] = 0.0
        return True

    def _dead_letters_durable(self) -> bool:
        """Flush the dead letters this stage produced; False (and a retry planned, all of them
        sent again: which arrived is unknown, dead_letters keeps one per id) when Kafka refused."""
        assert self._producer is not None
        try:
            self._producer.flush(30)
            return True
        except DeliveryError as e:
            for dead in self._dead_out:
                self._producer.dead_letter(self.settings.kafka.dlq_topic, dead)
            self._retry_later(f"dead letters not delivered: {e}", 1.0)
            return False

    def _refused(self, record: Any, reason: str) -> None:
        """A record ClickHouse refused alone: to the dead-letter topic with ClickHouse's reason;
        a refused dead letter cannot go round again, so it is logged whole instead."""
        assert self._producer is not None
        self.counters["refused"] += 1
        if isinstance(record, DeadLetter):
            logger.error(
                "ClickHouse refused dead letter id=%s stage=%s reason=%r payload=%r: %s",
                record.id,
                record.stage,
                record.reason,
                record.payload[:2000],
                reason,
            )
            return
        kind = records.BY_MODEL[type(record)]
        dead = DeadLetter(
            stage="sink",
            source="clickhouse",
            reason=f"ClickHouse refused the {kind.name} record: {reason}",
            payload=record.model_dump_json().encode(),
            topic=kind.topic(self.settings.kafka),
        )
        metrics.dead_lettered("sink", "refused by ClickHouse")
        self._dead_out.append(dead)
        self._producer.dead_letter(self.settings.kafka.dlq_topic, dead)

    def _count_written(self, result: FlushResult) -> None:
        self.counters["rollup_rebuilt"] += result.rollup_rebuilt
        if not result.inserts:
            return  # a retried commit: its rows were counted when they were written
        metrics.sink_flushed(result.rows, result.inserts, result.elapsed_s)
        self.counters["posts"] += result.posts
        self.counters["alerts"] += result.rows.get("alerts", 0)
        self.counters["dead_letters"] += result.dead_letters
        self.counters["inserts"] += result.inserts
        if result.elapsed_s > 0:
            rows = result.posts + result.dead_letters
            self.counters["insert_rows_per_s"] = round(rows / result.elapsed_s)
        logger.info(
            "flushed posts=%d dead_letters=%d inserts=%d elapsed_s=%.3f",
            result.posts,
            result.dead_letters,
            result.inserts,
            result.elapsed_s,
        )

    def _next_backoff(self, previous: float, retry_after: float) -> float:
        """The wait before the next try: doubled each time (from 0.5 s), at least what the store
        asked for, at most `VEILLE_SINK_RETRY_MAX_S`."""
        return min(self.settings.sink.retry_max_s, max(retry_after, previous * 2 or 0.5))

    def _retry_later(self, reason: str, retry_after: float) -> None:
        """Pause consumption, keep buffer and offsets, and try again after a backoff."""
        assert self._consumer is not None
        self._backoff = self._next_backoff(self._backoff, retry_after)
        self._retry_at = time.monotonic() + self._backoff
        self.counters["retries"] += 1
        self.counters["backoff_s"] = self._backoff
        if not self._paused:
            self._consumer.pause(self._consumer.assignment())
            self._paused = True
        logger.warning("%s; retrying in %.1fs", reason, self._backoff)
        self.status.update(force=True, **self.counters)

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for p in partitions:  # read from wherever the group committed: nothing expected yet
            self._next.pop((p.topic, p.partition), None)
        # librdkafka keeps a partition paused through a rebalance: one paused for an outage
        # and given back (the buffer was dropped meanwhile) would never be read again
        consumer.resume(partitions)
        self.status.set_state("running", **self.counters)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        if self._offsets and not self._flush_and_commit():
            self._drop()
        consumer.resume(partitions)

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._drop()
        consumer.resume(partitions)

    def _drop(self) -> None:
        """Forget the buffer: its partitions go to another owner, which re-reads them."""
        logger.warning(
            "partitions revoked with %d records unwritten; their next owner re-reads them",
            self.sink.pending,
        )
        self.sink.discard()
        self._alerts = []
        self._offsets.clear()
        self._dead_out.clear()
        self._first_pending_at = None
        self._retry_at = 0.0
        self._paused = False
