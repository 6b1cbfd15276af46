"""The sink stage against the real local broker and chDB: commit after insert, catch up after
an outage, bad records dead-lettered."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition
from factories import make_enriched

from sinks.base import FlushResult, SinkUnavailable
from sinks.clickhouse import ClickHouseSink
from sinks.runner import SinkRunner
from veille.kafka import Holes, Producer, ensure_topics
from veille.models import DeadLetter
from veille.settings import Settings


def _produce(settings: Settings, records: list[tuple[str, bytes | None, bytes]]) -> None:
    p = Producer(settings.kafka, "test")
    p.start()
    for topic, key, value in records:
        p.produce(topic, value, key=key)
    p.close()


def _run_until(runner: SinkRunner, done: Callable[[], bool], timeout: float = 60) -> None:
    t = threading.Thread(target=runner.run, daemon=True)
    t.start()
    deadline = time.monotonic() + timeout
    try:
        while not done():
            assert t.is_alive(), "runner stopped by itself"
            assert time.monotonic() < deadline, f"timed out; counters={runner.counters}"
            time.sleep(0.1)
    finally:
        runner.stop()
        t.join(30)
        runner.close()


def _committed(settings: Settings, topic: str) -> int:
    c = Consumer(settings.kafka.consumer_config(settings.sink.group, "probe"))
    try:
        parts = [TopicPartition(topic, p) for p in range(settings.kafka.partitions)]
        return sum(max(tp.offset, 0) for tp in c.committed(parts, timeout=10))
    finally:
        c.close()


def test_writes_posts_and_dead_letters_then_commits(settings: Settings, ch: Any) -> None:
    k = settings.kafka
    ensure_topics(k, k.all_topics())
    posts = [make_enriched(1000 + i) for i in range(300)]
    records: list[tuple[str, bytes | None, bytes]] = [
        (k.enriched_topic, p.key, p.model_dump_json().encode()) for p in posts
    ]
    records.append((k.enriched_topic, b"bad", b'{"id": "not a post"}'))
    dl = DeadLetter(stage="ingest", source="replay:f:1", reason="invalid JSON", payload=b"{oops")
    records.append((k.dlq_topic, dl.key, dl.model_dump_json().encode()))
    records.append((k.dlq_topic, None, b"\xff not even a dead letter"))
    _produce(settings, records)

    sink = ClickHouseSink(settings.clickhouse, client=ch)
    runner = SinkRunner(settings, sink)
    runner.start()
    _run_until(
        runner,
        lambda: (
            ch.command("SELECT uniqExact(id) FROM dead_letters") >= 3
            and ch.command("SELECT uniqExact(id) FROM posts") >= 300
        ),
    )

    assert ch.command("SELECT count() FROM posts FINAL") == 300
    reasons = {
        r[0]: r[1] for r in ch.query("SELECT stage, reason FROM dead_letters FINAL").result_rows
    }
    # the malformed enriched record went round through the dead-letter topic, with its reason
    assert set(reasons) == {"ingest", "sink"}
    stages = ch.query("SELECT stage, reason FROM dead_letters FINAL ORDER BY reason").result_rows
    assert any("invalid enriched post" in r for _, r in stages)
    assert any("malformed dead letter" in r for _, r in stages)
    assert _committed(settings, k.enriched_topic) == 301
    assert _committed(settings, k.dlq_topic) == 3


class _OutageSink(ClickHouseSink):
    """Refuses every flush until `healthy` is set, like a ClickHouse that is down."""

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.healthy = threading.Event()
        self.refused = 0

    def flush(self) -> FlushResult:
        if not self.healthy.is_set():
            self.refused += 1
            raise SinkUnavailable("connection refused", retry_after=0.1)
        return super().flush()


def _outage(
    settings: Settings, ch: Any, first_id: int
) -> tuple[_OutageSink, SinkRunner, threading.Thread]:
    """200 enriched posts on the topic, and a sink running against a ClickHouse that is away."""
    k = settings.kafka
    ensure_topics(k, k.all_topics())
    posts = [make_enriched(first_id + i) for i in range(200)]
    _produce(settings, [(k.enriched_topic, p.key, p.model_dump_json().encode()) for p in posts])
    sink = _OutageSink(settings.clickhouse, client=ch)
    runner = SinkRunner(settings, sink)
    runner.start()
    t = threading.Thread(target=runner.run, daemon=True)
    t.start()
    return sink, runner, t


def _stop(runner: SinkRunner, t: threading.Thread) -> None:
    runner.stop()
    t.join(30)
    runner.close()


def _heal_and_wait(
    sink: _OutageSink, runner: SinkRunner, t: threading.Thread, ch: Any, deadline: float
) -> None:
    """ClickHouse back: wait until the 200 posts are stored."""
    sink.healthy.set()
    while ch.command("SELECT uniqExact(id) FROM posts") < 200:
        assert time.monotonic() < deadline and t.is_alive(), runner.counters
        time.sleep(0.1)


def test_outage_keeps_offsets_uncommitted_and_catches_up(settings: Settings, ch: Any) -> None:
    k = settings.kafka
    sink, runner, t = _outage(settings, ch, first_id=5000)
    try:
        deadline = time.monotonic() + 60
        while sink.refused < 4:
            assert time.monotonic() < deadline and t.is_alive()
            time.sleep(0.05)
        assert _committed(settings, k.enriched_topic) == 0
        assert ch.command("SELECT count() FROM posts") == 0
        assert runner.counters["retries"] >= 4
        _heal_and_wait(sink, runner, t, ch, deadline)
    finally:
        _stop(runner, t)
    assert ch.command("SELECT count() FROM posts FINAL") == 200
    assert _committed(settings, k.enriched_topic) == 200


def test_a_failed_commit_is_retried_not_fatal(settings: Settings, ch: Any) -> None:
    """The group coordinator away (a broker restarting): rows are written, the commit fails,
    the sink pauses, commits later, and reads on; nothing is written twice or lost."""
    from confluent_kafka import KafkaError, KafkaException

    k = settings.kafka
    ensure_topics(k, k.all_topics())
    posts = [make_enriched(7000 + i) for i in range(120)]
    _produce(settings, [(k.enriched_topic, p.key, p.model_dump_json().encode()) for p in posts])

    runner = SinkRunner(settings, ClickHouseSink(settings.clickhouse, client=ch))
    runner.start()
    real = runner._consumer
    failures = {"left": 2}

    class CoordinatorAway:
        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        def commit(self, *a: Any, **kw: Any) -> Any:
            if failures["left"]:
                failures["left"] -= 1
                raise KafkaException(KafkaError(KafkaError._WAIT_COORD))
            return real.commit(*a, **kw)

    runner._consumer = CoordinatorAway()  # type: ignore[assignment]
    _run_until(runner, lambda: runner.counters["commits"] >= 1 and runner.counters["posts"] >= 120)
    assert failures["left"] == 0 and runner.counters["retries"] >= 2
    assert runner.counters["posts"] == 120 and runner.counters["inserts"] >= 1
    assert ch.command("SELECT count() FROM posts") == 120  # written once, not again per retry
    assert _committed(settings, k.enriched_topic) == 120

    later = [make_enriched(8000 + i) for i in range(30)]  # and it reads on
    _produce(settings, [(k.enriched_topic, p.key, p.model_dump_json().encode()) for p in later])
    runner2 = SinkRunner(settings, ClickHouseSink(settings.clickhouse, client=ch))
    runner2.start()
    _run_until(runner2, lambda: runner2.counters["posts"] >= 30)
    assert ch.command("SELECT count() FROM posts") == 150


def test_a_commit_error_that_cannot_heal_stops_the_sink() -> None:
    from confluent_kafka import KafkaError, KafkaException

    from sinks.runner import _retriable_commit_error

    assert _retriable_commit_error(KafkaException(KafkaError(KafkaError.NOT_COORDINATOR)))
    assert not _retriable_commit_error(
        KafkaException(KafkaError(KafkaError.GROUP_AUTHORIZATION_FAILED))
    )
    assert not _retriable_commit_error(KafkaException("no error object"))


class _Msg:
    """The part of a confluent-kafka message the sink reads."""

    def __init__(self, topic: str, partition: int, offset: int, value: bytes) -> None:
        self._t, self._p, self._o, self._v = topic, partition, offset, value

    def error(self) -> None:
        return None

    def topic(self) -> str:
        return self._t

    def partition(self) -> int:
        return self._p

    def offset(self) -> int:
        return self._o

    def value(self) -> bytes:
        return self._v

    def key(self) -> None:
        return None


class _Collect:
    def __init__(self) -> None:
        self.added: list[Any] = []
        self.pending = 0

    def add(self, record: Any) -> None:
        self.added.append(record)


class _Seeks:
    def __init__(self) -> None:
        self.seeks: list[tuple[str, int, int]] = []

    def seek(self, tp: TopicPartition) -> None:
        self.seeks.append((tp.topic, tp.partition, tp.offset))

    def resume(self, partitions: list[TopicPartition]) -> None:
        pass


def test_offsets_a_fetch_skipped_are_read_again_then_told_and_counted(settings: Settings) -> None:
    """A fetch that hands over offset 5 after 2: the sink reads the partition again from 3
    (the broker had not written 3-4 yet); a hole that lasts is told and counted. A re-read
    after a rebalance (backwards) or a new assignment (anywhere) is no hole."""
    from veille import records

    k = settings.kafka
    sink = _Collect()
    runner = SinkRunner(settings, sink)  # type: ignore[arg-type]
    runner._parsers = {k.enriched_topic: records.kind("enriched").parse}
    seeks = _Seeks()
    runner._consumer = seeks  # type: ignore[assignment]
    value = make_enriched(1).model_dump_json().encode()

    def read(*offsets: int, partition: int = 0) -> None:
        for offset in offsets:
            runner._handle(_Msg(k.enriched_topic, partition, offset, value))  # type: ignore[arg-type]

    read(0, 1, 2, 5, 6)
    assert seeks.seeks == [(k.enriched_topic, 0, 3), (k.enriched_topic, 0, 3)]
    assert len(sink.added) == 3 and runner.counters["hole_retries"] == 2
    read(3, 4, 5, 6, 2)  # the hole filled; then a re-read from an earlier commit
    assert len(sink.added) == 8 and runner.counters["offset_gaps"] == 0

    runner._holes = Holes(wait_s=0.0)  # a hole that lasts: accepted, told and counted
    read(9)
    assert (
        runner.counters["offset_gaps"] == 6 and len(sink.added) == 9
    )  # 3-8 after the re-read of 2
    runner._on_assign(seeks, [TopicPartition(k.enriched_topic, 0)])  # type: ignore[arg-type]
    read(40)
    read(9, partition=1)
    assert runner.counters["offset_gaps"] == 6 and len(sink.added) == 11


def test_a_dead_letter_not_delivered_is_sent_again_before_its_record_is_committed(
    settings: Settings, ch: Any
) -> None:
    """The dead letter of a bad record is refused by Kafka: the sink sends it again and commits
    past the record only once it is durable (before, the next flush passed and the offset was
    committed: the record was nowhere)."""
    from veille.kafka import DeliveryError

    k = settings.kafka
    ensure_topics(k, k.all_topics())
    posts = [make_enriched(9000 + i) for i in range(20)]
    records = [(k.enriched_topic, p.key, p.model_dump_json().encode()) for p in posts]
    _produce(settings, [*records, (k.enriched_topic, b"bad", b'{"id": "not a post"}')])

    runner = SinkRunner(settings, ClickHouseSink(settings.clickhouse, client=ch))
    runner.start()
    real = runner._producer
    lost = {"dead_letters": 0, "flushes": 0}

    class RefusingOnce:
        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        def dead_letter(self, topic: str, record: DeadLetter, **kw: Any) -> None:
            if not lost["dead_letters"]:
                lost["dead_letters"] += 1  # never reaches Kafka
                return
            real.dead_letter(topic, record, **kw)  # type: ignore[union-attr]

        def flush(self, timeout: float = 60.0) -> None:
            if lost["dead_letters"] and not lost["flushes"]:
                lost["flushes"] += 1
                raise DeliveryError("1 records were not delivered: Local: Message timed out")
            real.flush(timeout)  # type: ignore[union-attr]

    runner._producer = RefusingOnce()  # type: ignore[assignment]
    _run_until(runner, lambda: ch.command("SELECT count() FROM dead_letters") >= 1)
    assert lost == {"dead_letters": 1, "flushes": 1} and runner.counters["retries"] >= 1
    [(stage, reason)] = ch.query("SELECT stage, reason FROM dead_letters FINAL").result_rows
    assert stage == "sink" and "invalid enriched post" in reason
    assert ch.command("SELECT count() FROM posts FINAL") == 20
    assert _committed(settings, k.enriched_topic) == 21


def test_a_post_clickhouse_refuses_is_dead_lettered_with_its_reason(
    settings: Settings, ch: Any
) -> None:
    """Before, a row ClickHouse refused made the whole batch fail for ever."""
    from clickhouse_connect.driver.exceptions import DatabaseError

    k = settings.kafka
    ensure_topics(k, k.all_topics())
    posts = [make_enriched(12_000 + i) for i in range(10)]
    _produce(settings, [(k.enriched_topic, p.key, p.model_dump_json().encode()) for p in posts])

    class Refusing:
        def __getattr__(self, name: str) -> Any:
            return getattr(ch, name)

        def insert(self, table: str, rows: list[list[Any]], **kw: Any) -> Any:
            if table == "posts" and any(str(r[0]) == posts[3].id for r in rows):
                raise DatabaseError("Code: 53. DB::Exception: Type mismatch")
            return ch.insert(table, rows, **kw)

    sink = ClickHouseSink(settings.clickhouse, client=Refusing())  # type: ignore[arg-type]
    runner = SinkRunner(settings, sink)
    runner.start()
    _run_until(runner, lambda: ch.command("SELECT count() FROM dead_letters") >= 1)
    [(stage, source, reason)] = ch.query(
        "SELECT stage, source, reason FROM dead_letters FINAL"
    ).result_rows
    assert stage == "sink" and source == "clickhouse" and "Code: 53" in reason
    assert ch.command("SELECT count() FROM posts FINAL") == 9
    assert _committed(settings, k.enriched_topic) == 10 and runner.counters["refused"] == 1


def test_partitions_paused_for_an_outage_are_read_again_after_a_rebalance(
    settings: Settings, ch: Any
) -> None:
    """The sink pauses its partitions while ClickHouse is away; a rebalance then takes them
    (another member joining, or the sink's own session expiring while it was frozen) and gives
    them back. librdkafka keeps a partition paused through that, so the sink, which had dropped
    its buffer and believed itself unpaused, read nothing more, ever (seen in `veille bench
    chaos` after a 14 s SIGSTOP of the sink)."""
    k = settings.kafka
    sink, runner, t = _outage(settings, ch, first_id=9000)
    try:
        deadline = time.monotonic() + 90
        while sink.refused < 2 or not runner._paused:
            assert time.monotonic() < deadline and t.is_alive()
            time.sleep(0.05)
        # another member joins the group, takes its share, and leaves: two rebalances
        other = Consumer(k.consumer_config(settings.sink.group, "other"))
        other.subscribe([k.enriched_topic])
        while not other.assignment():
            assert time.monotonic() < deadline
            other.poll(0.2)
        other.close()
        _heal_and_wait(sink, runner, t, ch, deadline)
    finally:
        _stop(runner, t)
    assert ch.command("SELECT count() FROM posts FINAL") == 200
    assert _committed(settings, k.enriched_topic) == 200


class _AwayAtStart(ClickHouseSink):
    """A ClickHouse that refuses the sink's start (its migrations) `times` times."""

    def __init__(self, *a: Any, times: int, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.refusals = times

    def start(self) -> None:
        if self.refusals:
            self.refusals -= 1
            raise SinkUnavailable("connection refused", retry_after=0.05)
        super().start()


def test_a_sink_started_while_clickhouse_is_away_waits_for_it(settings: Settings, ch: Any) -> None:
    """A sink started again during an outage used to exit at once: under `veille up`, quick
    deaths in a row that the supervisor counts as a crash loop, ending the whole pipeline."""
    sink = _AwayAtStart(settings.clickhouse, client=ch, times=3)
    runner = SinkRunner(settings, sink)
    runner.start()
    try:
        assert sink.refusals == 0 and runner.counters["retries"] == 3
        assert runner._consumer is not None  # then started as usual
    finally:
        runner.close()
    stopped = SinkRunner(settings, _AwayAtStart(settings.clickhouse, client=ch, times=1))
    stopped.stop()  # asked to stop while waiting: gives up with the store's error
    with pytest.raises(SinkUnavailable):
        stopped.start()
