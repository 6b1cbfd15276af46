"""The enrich agent: unit behaviour of a batch, and the Faust worker against the real broker."""

from __future__ import annotations

import os
import subprocess
import sys
import time
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

    def enrich(self, posts):  # type: ignore[no-untyped-def]
        if any("BOOM" in p.text for p in posts):
            raise RuntimeError("model crashed")
        return super().enrich(posts)


def test_a_bad_record_is_dead_lettered_and_the_rest_of_the_batch_goes_on() -> None:
    good = [make_post(i, f"Orbital post {i}") for i in range(1, 5)]
    boom = make_post(9, "BOOM")
    values = [p.model_dump_json().encode() for p in good[:2]]
    values += [b"{not json", boom.model_dump_json().encode()]
    values += [p.model_dump_json().encode() for p in good[2:]]
    events = [_Event(v, _Msg("raw", 0, i)) for i, v in enumerate(values)]
    pairs, dead = EnrichBatches(_Exploding(load_watch()))(events)  # type: ignore[arg-type]
    enriched = [p for _, p in pairs]
    assert [p.id for p in enriched] == [p.id for p in good]
    assert all(p.entries == ("Orbital Telecom",) for p in enriched)
    assert [(d.offset, d.stage) for d in dead] == [(2, "process"), (3, "process")]
    assert dead[0].reason.startswith("invalid post") and dead[0].payload == b"{not json"
    assert "model crashed" in dead[1].reason and dead[1].topic == "raw"


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
    env = {
        **{kk: vv for kk, vv in os.environ.items() if not kk.startswith(("KAFKA_", "VEILLE_"))},
        "KAFKA_BOOTSTRAP_SERVERS": k.servers,
        "KAFKA_RAW_TOPIC": k.raw_topic,
        "KAFKA_ENRICHED_TOPIC": k.enriched_topic,
        "KAFKA_DLQ_TOPIC": k.dlq_topic,
        "KAFKA_PARTITIONS": str(k.partitions),
        "VEILLE_PROCESS_GROUP": settings.process.group,
        "VEILLE_PROCESS_BATCH_WINDOW_S": "0.2",
    }
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pipeline",
            "process",
            "--data-dir",
            str(tmp_path),
            "--status-file",
            str(status),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
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
