"""The enrich agent: unit behaviour of a batch, and the Faust worker against the real broker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer
from factories import make_post

from processors.enrich.agent import EnrichBatches
from processors.enrich.enricher import Enricher
from veille.kafka import Producer, ensure_topics
from veille.models import DeadLetter, EnrichedPost
from veille.settings import Settings
from veille.stats import read_status
from veille.watch import load_watch


@dataclass
class _Msg:
    topic: str
    partition: int
    offset: int


@dataclass
class _Event:
    value: Any
    message: _Msg


class _Exploding(Enricher):
    """Fails on any batch holding a post whose text contains BOOM."""

    def enrichments(self, posts):  # type: ignore[no-untyped-def]
        if any("BOOM" in p.text for p in posts):
            raise RuntimeError("model crashed")
        return super().enrichments(posts)


def test_a_bad_record_is_dead_lettered_and_the_rest_of_the_batch_goes_on() -> None:
    good = [make_post(i, f"Orbital post {i}") for i in range(1, 5)]
    boom = make_post(9, "BOOM")
    values = [p.model_dump_json().encode() for p in good[:2]]
    values += [b"{not json", boom.model_dump_json().encode()]
    values += [p.model_dump_json().encode() for p in good[2:]]
    events = [_Event(v, _Msg("raw", 0, i)) for i, v in enumerate(values)]
    pairs, dead = EnrichBatches(_Exploding(load_watch()))(events)  # type: ignore[arg-type]
    enriched = [p for _, p, _ in pairs]
    # each record's JSON (the raw JSON with the enrichment appended) reads back as its post
    assert [EnrichedPost.model_validate_json(v) for _, _, v in pairs] == enriched
    assert [p.id for p in enriched] == [p.id for p in good]
    assert all(p.entries == ("Orbital Telecom",) for p in enriched)
    assert [(d.offset, d.stage) for d in dead] == [(2, "process"), (3, "process")]
    assert dead[0].reason.startswith("invalid post") and dead[0].payload == b"{not json"
    assert "model crashed" in dead[1].reason and dead[1].topic == "raw"


def _worker(
    settings: Settings, data_dir: Path, status: Path, inject: str = ""
) -> subprocess.Popen[bytes]:
    """`veille process` (Python code `inject` run first, in the worker, to break something)."""
    k = settings.kafka
    env = {
        **{kk: vv for kk, vv in os.environ.items() if not kk.startswith(("KAFKA_", "VEILLE_"))},
        "KAFKA_BOOTSTRAP_SERVERS": k.servers,
        "KAFKA_RAW_TOPIC": k.raw_topic,
        "KAFKA_ENRICHED_TOPIC": k.enriched_topic,
        "KAFKA_DLQ_TOPIC": k.dlq_topic,
        "KAFKA_OBSERVATIONS_TOPIC": k.observations_topic,
        "KAFKA_ALERTS_TOPIC": k.alerts_topic,
        "KAFKA_PARTITIONS": str(k.partitions),
        "VEILLE_PROCESS_GROUP": settings.process.group,
        "VEILLE_PROCESS_BATCH_WINDOW_S": "0.2",
    }
    args = ["process", "--data-dir", str(data_dir), "--status-file", str(status)]
    code = f"import runpy, sys\n{inject}\nsys.argv = ['veille', *{args!r}]\n"
    code += "runpy.run_module('pipeline', run_name='__main__')"
    return subprocess.Popen(
        [sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def test_faust_worker_enriches_and_dead_letters(settings: Settings, tmp_path: Path) -> None:
    k = settings.kafka
    ensure_topics(k, [k.raw_topic, k.enriched_topic, k.dlq_topic])
    posts = [
        make_post(100 + i, f"@orbital_care toujours pas de réseau {i}", lang="fr")
        for i in range(120)
    ]
    p = Producer(k, "test")
    p.start()
    for post in posts[:60]:
        p.produce(k.raw_topic, post.model_dump_json().encode(), key=post.key)
    p.produce(k.raw_topic, b'{"id": "1", "text": "no author"}', key=b"1")
    for post in posts[60:]:
        p.produce(k.raw_topic, post.model_dump_json().encode(), key=post.key)
    p.close()

    status = tmp_path / "process.json"
    worker = _worker(settings, tmp_path, status)
    try:
        deadline = time.monotonic() + 90
        while read_status(status).get("consumed", 0) < 121:
            assert worker.poll() is None, worker.stdout.read().decode()[-2000:]  # type: ignore[union-attr]
            assert time.monotonic() < deadline, read_status(status)
            time.sleep(0.2)
    finally:
        worker.terminate()
        worker.wait(60)
    assert read_status(status)["state"] == "stopped"

    c = Consumer(k.consumer_config("reader", "reader"))
    c.subscribe([k.enriched_topic, k.dlq_topic])
    got: dict[str, list[bytes]] = {k.enriched_topic: [], k.dlq_topic: []}
    deadline = time.monotonic() + 30
    while sum(map(len, got.values())) < 121 and time.monotonic() < deadline:
        for m in c.consume(500, 0.5):
            if m.error() is None:
                got[m.topic()].append(m.value())
    c.close()
    enriched = [EnrichedPost.model_validate_json(v) for v in got[k.enriched_topic]]
    assert sorted(int(e.id) for e in enriched) == [100 + i for i in range(120)]
    assert all(e.lang == "fr" and e.topics == ("outage",) for e in enriched)
    assert all(e.entries == ("Orbital Telecom",) for e in enriched)
    [dead] = [DeadLetter.from_json(v) for v in got[k.dlq_topic]]
    assert dead.stage == "process" and dead.topic == k.raw_topic and dead.offset is not None
    assert "invalid post" in dead.reason


def _produce_posts(settings: Settings, first: int, n: int) -> list[int]:
    k = settings.kafka
    ensure_topics(k, k.all_topics())
    p = Producer(k, "test")
    p.start()
    for i in range(first, first + n):
        post = make_post(i, f"@orbital_care no network since this morning {i}")
        p.produce(k.raw_topic, post.model_dump_json().encode(), key=post.key)
    p.close()
    return list(range(first, first + n))


def _enriched_ids(settings: Settings, want: int, timeout: float = 30) -> list[int]:
    k = settings.kafka
    c = Consumer(k.consumer_config("reader", "reader"))
    c.subscribe([k.enriched_topic])
    ids: list[int] = []
    deadline = time.monotonic() + timeout
    while len(set(ids)) < want and time.monotonic() < deadline:
        ids += [int(json.loads(m.value())["id"]) for m in c.consume(500, 0.5) if not m.error()]
    c.close()
    return ids


def _wait(worker: subprocess.Popen[bytes], status: Path, done: Callable[[dict], bool]) -> None:
    deadline = time.monotonic() + 90
    try:
        while not done(read_status(status)):
            assert worker.poll() is None, worker.stdout.read().decode()[-3000:]  # type: ignore[union-attr]
            assert time.monotonic() < deadline, read_status(status)
            time.sleep(0.2)
    finally:
        worker.terminate()
        worker.wait(60)


def test_a_delivery_that_raises_is_sent_again_not_acknowledged_without_output(
    settings: Settings, tmp_path: Path
) -> None:
    """confluent-kafka's flush raising SystemError (a delivery callback failed): the batch's
    output is sent again; before, the agent crashed and Faust acknowledged the batch."""
    ids = _produce_posts(settings, 300, 120)
    inject = (
        "import processors.delivery as d\n"
        "real = d.Delivery._send_and_flush\n"
        "calls = []\n"
        "def broken(self, records):\n"
        "    calls.append(1)\n"
        "    if len(calls) == 1:\n"
        "        raise SystemError('<built-in method flush> returned a result with an exception')\n"
        "    return real(self, records)\n"
        "d.Delivery._send_and_flush = broken\n"
    )
    status = tmp_path / "process.json"
    _wait(
        _worker(settings, tmp_path, status, inject), status, lambda s: s.get("consumed", 0) >= 120
    )
    assert sorted(set(_enriched_ids(settings, 120))) == ids


def test_a_batch_that_fails_exits_the_worker_unacknowledged_and_is_read_again(
    settings: Settings, tmp_path: Path
) -> None:
    """Any other error inside a batch: the worker exits 75 without acknowledging it (Faust would
    acknowledge every event of a batch the agent's loop leaves); the next worker enriches it."""
    ids = _produce_posts(settings, 500, 120)
    inject = (
        "import processors.enrich.agent as a\n"
        "def broken(self, events):\n"
        "    raise RuntimeError('enricher lost its model')\n"
        "a.EnrichBatches.__call__ = broken\n"
    )
    status = tmp_path / "process.json"
    worker = _worker(settings, tmp_path, status, inject)
    try:
        code = worker.wait(90)
    finally:
        worker.kill()
    assert code == 75, worker.stdout.read().decode()[-3000:]  # type: ignore[union-attr]
    out = worker.stdout.read().decode()  # type: ignore[union-attr]
    assert "an enrich batch failed" in out and "without acknowledging" in out
    status2 = tmp_path / "process-2.json"
    _wait(_worker(settings, tmp_path, status2), status2, lambda s: s.get("consumed", 0) >= 120)
    assert sorted(set(_enriched_ids(settings, 120))) == ids


def test_a_malformed_observation_is_dead_lettered_not_only_logged(
    settings: Settings, tmp_path: Path
) -> None:
    k = settings.kafka
    ensure_topics(k, k.all_topics())
    p = Producer(k, "test")
    p.start()
    p.produce(k.observations_topic, b'{"entry": 5}', key=b"x")
    p.close()
    status = tmp_path / "process.json"
    worker = _worker(settings, tmp_path, status)
    _wait(worker, status, lambda s: s.get("observations_done", 0) >= 1)
    c = Consumer(k.consumer_config("reader", "reader"))
    c.subscribe([k.dlq_topic])
    dead: list[DeadLetter] = []
    deadline = time.monotonic() + 30
    while not dead and time.monotonic() < deadline:
        dead += [DeadLetter.from_json(m.value()) for m in c.consume(10, 0.5) if not m.error()]
    c.close()
    [d] = dead
    assert d.stage == "process" and d.topic == k.observations_topic
    assert d.reason.startswith("invalid observation") and d.payload == b'{"entry": 5}'


def test_an_enriched_post_too_large_for_kafka_is_dead_lettered() -> None:
    """It used to be produced, refused by Kafka, and the worker exited and read the same batch
    again, for ever."""
    from factories import make_enriched

    from processors.enrich.agent import enriched_records
    from veille.settings import KafkaSettings

    k = KafkaSettings(message_max_bytes=10_000)
    small, big = make_enriched(1), make_enriched(2, text="Orbital " * 2000)
    records, kept, dead = enriched_records(
        [(0, small, small.model_dump_json().encode()), (1, big, big.model_dump_json().encode())],
        k,
    )
    assert [r[1] for r in records] == [small.key] and kept == [(0, small)]
    [d] = dead
    assert d.stage == "process" and d.partition == 1 and "over the record limit" in d.reason
    assert len(d.model_dump_json()) < 1_000_000
