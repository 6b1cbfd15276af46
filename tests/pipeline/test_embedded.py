"""The durable local broker: what retention deletes, the offset repair, a restart after SIGKILL."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from pipeline.embedded import LocalBroker
from pipeline.embedded.retention import (
    CONSUMED_GRACE_S,
    META_LOG_DIR,
    META_LOG_KEEP_S,
    Batch,
    expendable,
    rewound,
)
from pipeline.embedded.seaweed import filer_store, write_filer_config
from veille.kafka import ensure_topics
from veille.settings import KafkaSettings


def test_expendable_keeps_unread_newest_and_young() -> None:
    batches = [Batch(0, 100.0), Batch(10, 100.0), Batch(20, 100.0), Batch(30, 100.0)]
    read_long_ago = 100.0 + CONSUMED_GRACE_S
    # read up to 20 by every group, the grace ago and more: 0 and 10 go, never the newest
    assert (
        expendable(batches, [20, 25], now=read_long_ago, retention_s=3600, started=0)
        == (batches[:2])
    )
    # a group that has read nothing holds everything back until the retention
    assert expendable(batches, [20, -1], now=read_long_ago, retention_s=3600, started=0) == []
    # written less than the grace ago: kept although read
    just_read = 100.0 + CONSUMED_GRACE_S / 2
    assert expendable(batches, [40], now=just_read, retention_s=3600, started=0) == []
    # past the retention, read or not; but counted from the broker's start at the earliest
    assert expendable(batches, [], now=4000.0, retention_s=3600, started=0) == batches[:3]
    assert expendable(batches, [], now=4000.0, retention_s=3600, started=3000.0) == []


def test_rewound_moves_an_offset_inside_a_batch_to_its_start() -> None:
    assert rewound(15, [0, 10, 20], high=30) == 10
    assert rewound(20, [0, 10, 20], high=30) == 20
    assert rewound(30, [0, 10, 20], high=30) == 30  # read to the end: nothing to repair
    assert rewound(5, [10, 20], high=30) == 5  # below what is kept


def _produce(bootstrap: str, topic: str, n: int, start: int = 0) -> None:
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5})
    for i in range(start, start + n):
        p.produce(topic, f"v{i}".encode(), key=str(i).encode(), partition=0)
        if i % 50 == 0:
            p.flush()  # several batches
    assert p.flush(30) == 0


def _read(bootstrap: str, topic: str, group: str, commit_after: int | None = None) -> list[str]:
    c = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "session.timeout.ms": 6000,
        }
    )
    c.assign([TopicPartition(topic, 0, -1001 if commit_after is None else -2)])
    seen: list[str] = []
    idle = time.monotonic()
    while time.monotonic() - idle < 4:
        for m in c.consume(100, 0.5):
            if m.error() is None:
                seen.append(m.value().decode())
                idle = time.monotonic()
                if commit_after is not None and len(seen) == commit_after:
                    c.commit(m, asynchronous=False)  # most likely inside a batch
                    c.close()
                    return seen
    c.close()
    return seen


def test_the_filer_store_is_the_small_one_unless_a_directory_has_the_default(
    tmp_path: Path,
) -> None:
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    assert write_filer_config(fresh) == "leveldb3"
    toml = (fresh / "filer.toml").read_text()
    assert "[leveldb3]\nenabled = true\n" in toml and "[leveldb2]\nenabled = false\n" in toml
    assert f'dir = "{fresh / "filerldb3"}"' in toml
    # a directory an earlier version filled keeps SeaweedFS's default store: its topics are there
    earlier = tmp_path / "earlier"
    (earlier / "filerldb2").mkdir(parents=True)
    assert write_filer_config(earlier) == "leveldb2"
    assert "[leveldb2]\nenabled = true\n" in (earlier / "filer.toml").read_text()
    (earlier / "filerldb3").mkdir()
    assert filer_store(earlier) == "leveldb3"


@pytest.mark.integration
def test_durable_broker_survives_sigkill_repairs_offsets_and_retention_frees(
    tmp_path: Path,
) -> None:
    data, topic = tmp_path / "broker", "t"
    broker = LocalBroker(data_dir=data, log_file=tmp_path / "broker.log").start()
    try:
        k = KafkaSettings(bootstrap_servers=broker.bootstrap_servers, partitions=1)
        ensure_topics(k, [topic])
        _produce(broker.bootstrap_servers, topic, 300)
        assert len(_read(broker.bootstrap_servers, topic, "g", commit_after=125)) == 125
        # SIGKILL of the broker and its S3 server: nothing is stopped cleanly
        for pid_file in (data / "tansu.pid", data / "s3" / "weed.pid"):
            os.kill(int(pid_file.read_text()), signal.SIGKILL)
    finally:
        if broker.retention is not None:
            broker.retention.stop()
    broker = LocalBroker(data_dir=data, log_file=tmp_path / "broker.log")
    with broker:
        bs = broker.bootstrap_servers
        # the filer kept its metadata in the small store, which it found again after the kill
        assert (data / "s3" / "filerldb3").is_dir() and not (data / "s3" / "filerldb2").exists()
        # every record survived; the group resumes at its committed offset, none skipped
        assert sorted(_read(bs, topic, "fresh"), key=lambda v: int(v[1:])) == [
            f"v{i}" for i in range(300)
        ]
        resumed = _read(bs, topic, "g")
        assert {f"v{i}" for i in range(125, 300)} <= set(resumed)
        assert broker.retention is not None
        swept = broker.retention.sweep(now=time.time() + 120)
        # "fresh" read everything, "g" (which did not commit again) is still at 125, moved back
        # to its batch's start: the batches below that one go, the rest stays
        assert swept.deleted > 0 and swept.kept > 0
        kept = [int(v[1:]) for v in _read(bs, topic, "later")]
        assert 0 < min(kept) <= 125 and set(range(125, 300)) <= set(kept)
        # the S3 server's own metadata log (every object written and deleted) goes too
        system = broker.retention.system
        assert system is not None
        for day in ("2000-01-01", "2000-01-02"):
            system.put_json(f"{META_LOG_DIR}/{day}/00-00.log", {"pad": "x" * 2000})
        freed = broker.retention.sweep_meta_log(now=time.time() + META_LOG_KEEP_S + 60)
        assert freed >= 4000
        days = [e.name for e in system.list(META_LOG_DIR)]
        assert "2000-01-01" not in days
        assert not list(system.list(f"{META_LOG_DIR}/2000-01-02"))


@pytest.mark.integration
def test_every_record_acknowledged_survives_broker_kills_mid_produce(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tansu's S3 engine records an idempotent producer's sequence before it writes the batch: a
    kill between the two made the retry a DuplicateSequenceNumber, which librdkafka takes for a
    delivery, and the batch was gone. The pipeline's producers, configured as `veille up` gives
    them the durable broker, lose nothing across kills that land while batches are in flight."""
    data, topic = tmp_path / "broker", "t"
    broker = LocalBroker(data_dir=data, log_file=tmp_path / "broker.log").start()
    port = broker.port
    for name, value in broker.client_env({}).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("KAFKA_LINGER_MS", "5")  # the broker always busy: kills land mid-request
    k = KafkaSettings(bootstrap_servers=broker.bootstrap_servers, partitions=4)
    ensure_topics(k, [topic])
    producer = Producer(k.producer_config("test-kills"))
    acked: set[int] = set()
    failed: list[str] = []

    def delivered(err: object, msg: Any) -> None:
        if err is None:
            acked.add(int(msg.value()))
        else:
            failed.append(str(err))

    stop = threading.Event()
    sent = 0

    def produce() -> None:
        nonlocal sent
        while not stop.is_set():
            for _ in range(40):
                producer.produce(
                    topic, str(sent).encode(), key=str(sent).encode(), on_delivery=delivered
                )
                producer.poll(0)
                sent += 1
            time.sleep(0.01)

    writer = threading.Thread(target=produce)
    writer.start()
    try:
        for pause in (1.5, 2.0, 1.7, 1.8):
            time.sleep(pause)
            for pid in (broker.pid, broker.storage_pid):
                assert pid is not None
                os.kill(pid, signal.SIGKILL)
            broker.stop()
            broker = LocalBroker(port=port, data_dir=data, log_file=tmp_path / "broker.log").start()
        time.sleep(1.0)
    finally:
        stop.set()
        writer.join()
    try:
        assert producer.flush(120) == 0 and failed == []
        assert len(acked) == sent > 10_000
        c = Consumer({"bootstrap.servers": broker.bootstrap_servers, "group.id": "all"})
        c.assign([TopicPartition(topic, p, 0) for p in range(4)])
        stored: set[int] = set()
        idle = time.monotonic()
        while time.monotonic() - idle < 5:
            for m in c.consume(1000, 0.5):
                if m.error() is None:
                    stored.add(int(m.value()))
                    idle = time.monotonic()
        c.close()
        assert sorted(acked - stored)[:10] == []
    finally:
        broker.stop()
