"""Replay files and the ingest runner against the real local broker: good payloads become posts
on the raw topic keyed by id; bad ones reach the dead-letter topic with their reason."""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path

import pytest
from confluent_kafka import Consumer
from factories import x_payload

from ingest.replay import ReplaySource
from ingest.runner import IngestRunner
from veille.kafka import ensure_topics
from veille.models import DeadLetter, Post
from veille.settings import Settings


def _write(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def _read_all(
    settings: Settings, topic: str, n: int, timeout: float = 30
) -> list[tuple[bytes, bytes]]:
    c = Consumer(settings.kafka.consumer_config(f"read-{topic}", "reader"))
    c.subscribe([topic])
    out: list[tuple[bytes, bytes]] = []
    deadline = time.monotonic() + timeout
    try:
        while len(out) < n and time.monotonic() < deadline:
            for m in c.consume(500, 0.5):
                if m.error() is None:
                    out.append((m.key(), m.value()))
    finally:
        c.close()
    return out


def test_replay_skips_blank_lines_and_reads_gzip(tmp_path: Path) -> None:
    lines = [json.dumps(x_payload(i)).encode() for i in range(1, 4)]
    plain = _write(tmp_path / "a.ndjson", [lines[0], b"", b"   ", lines[1]])
    packed = tmp_path / "b.ndjson.gz"
    packed.write_bytes(gzip.compress(lines[2] + b"\n"))
    src = ReplaySource([plain, packed])
    src.start()
    got = list(src.records())
    assert [r.payload for r in got] == lines
    assert [r.origin for r in got] == [
        "replay:a.ndjson:1",
        "replay:a.ndjson:4",
        "replay:b.ndjson.gz:1",
    ]


def test_replay_speed_factor_reproduces_spacing(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    t0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    lines = [
        json.dumps(x_payload(i + 1, created_at=t0 + timedelta(seconds=2 * i))).encode()
        for i in range(3)
    ]
    src = ReplaySource([_write(tmp_path / "s.ndjson", lines)], speed=4.0)  # 2 s gaps -> 0.5 s
    src.start()
    started = time.monotonic()
    stamps = [time.monotonic() - started for _ in src.records()]
    assert stamps[2] == pytest.approx(1.0, abs=0.4)
    assert stamps[1] == pytest.approx(0.5, abs=0.3)


def test_replay_refuses_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not found"):
        ReplaySource([tmp_path / "missing.ndjson"]).start()


def test_runner_produces_posts_and_dead_letters(settings: Settings, tmp_path: Path) -> None:
    k = settings.kafka
    ensure_topics(k, [k.raw_topic, k.dlq_topic])
    good = [json.dumps(x_payload(100 + i, f"post {i} about Orbital")).encode() for i in range(50)]
    bad = [
        b'{"data": {"id": "1", "text": "truncated',
        json.dumps({"data": {"id": "12", "text": "x", "author_id": "1"}}).encode(),
        json.dumps(
            {"data": {"id": "13", "author_id": "1", "created_at": "2026-12-07T09:00:00Z"}}
        ).encode(),
        b"\xff\xfe not utf-8",
    ]
    path = _write(tmp_path / "mixed.ndjson", good[:25] + bad + good[25:])
    runner = IngestRunner(settings, ReplaySource([path]))
    runner.start()
    counters = runner.run()
    runner.close()
    assert counters == {"ingested": 54, "produced": 50, "dead_lettered": 4}

    raw = _read_all(settings, k.raw_topic, 50)
    assert len(raw) == 50
    posts = [Post.model_validate_json(v) for _, v in raw]
    assert all(key == p.id.encode() for (key, _), p in zip(raw, posts, strict=True))
    assert {p.id for p in posts} == {str(100 + i) for i in range(50)}
    assert all(p.source == "replay" and p.author.username == "someone" for p in posts)

    dead = [DeadLetter.from_json(v) for _, v in _read_all(settings, k.dlq_topic, 4)]
    assert sorted(d.source for d in dead) == [f"replay:mixed.ndjson:{n}" for n in (26, 27, 28, 29)]
    by_line = {d.source.rsplit(":", 1)[1]: d for d in dead}
    assert by_line["26"].payload == bad[0] and "invalid" in by_line["26"].reason
    assert "data.created_at" in by_line["27"].reason
    assert "data.text" in by_line["28"].reason
    assert by_line["29"].payload == bad[3]
    assert all(d.stage == "ingest" for d in dead)


def test_ingest_stops_on_a_refused_record_and_resumes_before_it(
    settings: Settings, tmp_path: Path
) -> None:
    """Kafka refuses every record (unreachable past `message.timeout.ms`): ingest stops reading
    within 256 records, loudly, and the replay's saved position is not past any of them (before,
    the failures were only logged and the source read on, while looking healthy)."""
    from datetime import UTC, datetime, timedelta

    from veille.kafka import DeliveryError

    t0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    lines = [
        json.dumps(x_payload(5000 + i, created_at=t0 + timedelta(milliseconds=5 * i))).encode()
        for i in range(1000)
    ]
    path = _write(tmp_path / "posts.ndjson", lines)
    state = tmp_path / "replay.json"
    settings.kafka = settings.kafka.model_copy(update={"bootstrap_servers": "127.0.0.1:9"})
    runner = IngestRunner(settings, ReplaySource([path], speed=1.0, state_file=state))
    runner.producer._conf["message.timeout.ms"] = 300
    runner.start()
    with pytest.raises(DeliveryError, match="not delivered"):
        runner.run()
    assert runner.counters["ingested"] < 1000  # it stopped reading
    with pytest.raises(DeliveryError):
        runner.close()
    assert not state.exists() or json.loads(state.read_text()).get("line", 0) == 0
