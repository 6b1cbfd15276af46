"""The x source against a fake X API v2 server (tests/fakex/) speaking X's wire format:
rules sync, a disconnect storm with gap fill, the budget, audience, compliance, secrecy."""

from __future__ import annotations

import itertools
import json
import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from confluent_kafka import Consumer
from factories import make_enriched, x_payload
from fakex import (
    Disconnect,
    Drop,
    FakeX,
    HttpError,
    OperationalDisconnect,
    RateLimit,
    Send,
    StaleConnection,
    Stall,
    x_user,
)

from ingest.runner import IngestRunner
from ingest.x import rules as rules_sync
from ingest.x.backfill import gap_fill_queries
from ingest.x.backoff import Backoff
from ingest.x.clock import FakeClock
from ingest.x.source import XSource
from ingest.x.stream import FilteredStream
from sinks import queries
from sinks.clickhouse import ClickHouseSink
from sinks.compliance import check
from veille import xapi
from veille.kafka import ensure_topics
from veille.models import Alert, DeadLetter, parse_stream_payload
from veille.settings import Settings, XSettings
from veille.watch import compile_rules, load_watch, parse_watch

TOKEN = "sk-test-bearer-Z9fQ"
ONE_RULE = parse_watch({"brands": [{"name": "Orbital", "accounts": ["orbital_care"]}]})


@pytest.fixture
def clock() -> FakeClock:
    """Fake time from noon UTC today: a test run across midnight must not see the day's meter
    reset or a date move under its feet (both failed a CI run that started at 23:59)."""
    noon = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    return FakeClock(start=noon)


def _x(fake: FakeX, **kw: Any) -> XSettings:
    return XSettings(bearer_token=TOKEN, api_base_url=fake.base_url, **kw)


def _read_topic(
    settings: Settings, topic: str, timeout: float = 30, until: Any = None
) -> list[bytes]:
    c = Consumer(settings.kafka.consumer_config(f"read-{topic}-{time.time()}", "reader"))
    c.subscribe([topic])
    out: list[bytes] = []
    deadline = time.monotonic() + timeout
    idle = 0
    try:
        while time.monotonic() < deadline:
            msgs = c.consume(1000, 0.5)
            out += [m.value() for m in msgs if m.error() is None]
            idle = 0 if msgs else idle + 1
            if until is not None and until(out):
                break
            if until is None and out and idle >= 4:
                break
    finally:
        c.close()
    return out


def test_rules_sync_round_trips(clock: FakeClock) -> None:
    with FakeX(TOKEN) as fake:
        stream = xapi.streaming_client(_x(fake), FilteredStream)
        fake_old = [{"value": "old rule", "tag": "brand:Gone"}]
        import requests

        requests.post(
            f"{fake.base_url}/2/tweets/search/stream/rules",
            json={"add": fake_old},
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=10,
        )
        compiled = compile_rules(load_watch())
        dry = rules_sync.sync(stream, compiled, dry_run=True)
        assert len(dry.add) == len(compiled) and len(dry.delete) == 1
        assert [r["value"] for r in fake.rules] == ["old rule"]  # dry run changed nothing
        first = rules_sync.sync(stream, compiled)
        assert first.changes == len(compiled) + 1
        assert sorted((r["value"], r["tag"]) for r in fake.rules) == sorted(
            (r.value, r.tag) for r in compiled
        )
        ids = {r["id"] for r in fake.rules}
        calls = len(fake.rule_calls)
        second = rules_sync.sync(stream, compiled)
        assert second.changes == 0 and len(fake.rule_calls) == calls + 1  # one GET, no change
        assert {r["id"] for r in fake.rules} == ids


def _feed(fake: FakeX, clock: FakeClock, n: int, stop: threading.Event) -> None:
    """Add posts to the timeline as X would publish them: 50 a second of the fake clock, each
    created before it is added, a little ahead of the stream (the fake's private cursor says
    how far the stream got)."""
    i = 0
    while i < n and not stop.is_set():
        fake.wait_until(lambda fx, i=i: fx._cursor >= i - 100, timeout=120)
        batch = []
        clock.sleep(2.0)
        size = min(100, n - i)
        start = clock.now() - timedelta(milliseconds=20 * size)  # created before now, never after
        for j in range(size):
            i += 1
            batch.append(
                x_payload(
                    1_900_000_000_000_000_000 + i,
                    f"Orbital post {i}",
                    created_at=start + timedelta(milliseconds=20 * j),
                    author_id=str(5000 + i % 300),
                    username=f"user{i % 300}",
                )
            )
        fake.add_posts(batch)


def _storm_script() -> list[Any]:
    steps: list[Any] = []
    for i in range(20):
        steps.append(Send(350))
        if i % 2 == 0:
            steps.append(Drop(40))
        if i in (3, 9, 15):
            steps += [Disconnect(), RateLimit(reset_in_s=30)]
            continue
        if i in (5, 12):
            steps.append(Stall(2.0))
            continue
        if i == 7:
            steps += [Disconnect(), HttpError(503), HttpError(500)]
            continue
        if i == 17:
            steps += [OperationalDisconnect(), StaleConnection()]
            continue
        steps.append(Disconnect(mid_post=i % 3 == 0))
    return steps


def _run_source(settings: Settings, source: XSource) -> tuple[IngestRunner, threading.Thread]:
    runner = IngestRunner(settings, source)
    runner.start()
    t = threading.Thread(target=runner.run, daemon=True)
    t.start()
    return runner, t


def test_disconnect_storm_loses_nothing(
    settings: Settings, clock: FakeClock, ch: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    total = 10_000
    ensure_topics(settings.kafka, settings.kafka.all_topics())
    with FakeX(
        TOKEN, script=_storm_script(), keepalive_s=0.1, search_limit=100_000, clock=clock.now
    ) as fake:
        stop_feed = threading.Event()
        feeder = threading.Thread(target=_feed, args=(fake, clock, total, stop_feed), daemon=True)
        feeder.start()
        source = XSource(
            _x(fake, stream_stall_timeout_s=0.5, gap_fill_margin_s=0.5),
            ONE_RULE,
            clock=clock,
            audience=False,
        )
        runner, t = _run_source(settings, source)
        try:
            fake.wait_idle(timeout=120)
            fake.wait_until(
                lambda fx: len(fx.delivered_ids) + len(fx.dropped_ids) >= total, timeout=60
            )
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not (
                source.caught_up() and source.meter.reads_day >= total
            ):
                time.sleep(0.1)
        finally:
            stop_feed.set()
            runner.stop()
            t.join(30)
            runner.close()

        assert fake.max_concurrent_connections == 1
        assert len(fake.dropped_ids) == 400
        assert source.stream is not None
        counters = source.stream.counters
        # three 429s, and the stale connection (TooManyConnections) waits as a 429 does
        assert counters["stalls"] >= 2 and counters["backoff_rate_limit"] == 4
        assert counters["too_many_connections"] >= 1 and counters["connections_cleared"] >= 1
        assert counters["error_payload:operational-disconnect"] == 1

    produced = runner.counters["produced"]
    raw = _read_topic(
        settings, settings.kafka.raw_topic, timeout=90, until=lambda out: len(out) >= produced
    )
    posts = [json.loads(v) for v in raw]
    ids = {p["id"] for p in posts}
    assert len(raw) == produced and runner.counters["dead_lettered"] == 0
    missing = sorted({str(1_900_000_000_000_000_000 + i) for i in range(1, total + 1)} - ids)
    dropped = set(fake.dropped_ids)
    assert not missing, (  # every post, the dropped ones through gap fill
        f"{len(missing)} missing, {len(dropped & set(missing))} of them dropped: {missing[:3]}"
    )
    assert source.meter.reads_day == total  # billed once each
    assert source.meter.duplicates_day == produced - total  # re-reads counted, not billed
    assert produced - total < total  # the gap fill reads the gaps, not the whole history

    # the backoff delays follow X's schedule, restarting after each successful connection
    expected = Backoff()
    for kind, wait in source.stream.history:
        if kind == "connected":
            expected.reset()
        elif kind == "rate_limit":
            assert wait >= expected.next("rate_limit")
        else:
            assert wait == expected.next(kind)
    waits = [w for k, w in source.stream.history if k == "rate_limit"]
    assert waits == [60.0, 60.0, 60.0, 60.0]

    # downstream, each post counts once however many times it was read
    from processors.enrich.enricher import Enricher

    sink = ClickHouseSink(settings.clickhouse, client=ch)
    sink.start()
    enricher = Enricher(ONE_RULE)
    for i in range(0, len(raw), 2000):
        batch = [parse_stream_payload(json.dumps(_as_payload(p))) for p in posts[i : i + 2000]]
        for e in enricher.enrich(batch):
            sink.add(e)
        sink.flush()
    assert ch.command("SELECT count() FROM posts FINAL") == total
    _, rows = queries.run(ch, "mentions_over_time", {"interval_s": "60"})
    assert sum(r[1] for r in rows) == total

    assert TOKEN not in caplog.text


def _as_payload(post: dict[str, Any]) -> dict[str, Any]:
    """A raw-topic post back as an X payload, to enrich it as the processor would."""
    a = post["author"]
    return {
        "data": {
            "id": post["id"],
            "text": post["text"],
            "created_at": post["created_at"],
            "author_id": a["id"],
            "lang": post["x_lang"],
        },
        "includes": {"users": [{"id": a["id"], "username": a["username"]}]},
    }


def test_budget_pauses_ingestion_and_says_so(
    settings: Settings, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    ensure_topics(settings.kafka, settings.kafka.all_topics())
    payloads = [
        x_payload(1_900_000_000_000_001_000 + i, f"Orbital {i}", created_at=clock.now())
        for i in range(200)
    ]
    with FakeX(TOKEN, script=[Send(200)], keepalive_s=0.1, clock=clock.now) as fake:
        fake.add_posts(payloads)
        budget = 120 * 0.005  # 120 posts
        source = XSource(_x(fake, monthly_budget_usd=budget), ONE_RULE, clock=clock, audience=False)
        runner, t = _run_source(settings, source)
        try:
            deadline = time.monotonic() + 30
            while not source.metrics()["paused"] and time.monotonic() < deadline:
                time.sleep(0.05)
            assert source.metrics()["paused"]
        finally:
            runner.stop()
            t.join(30)
            runner.close()
    assert runner.counters["ingested"] == 120
    assert source.meter.reads_month == 120
    assert "budget reached" in caplog.text
    alerts = [
        Alert.model_validate_json(v) for v in _read_topic(settings, settings.kafka.alerts_topic)
    ]
    assert [a.kind for a in alerts] == ["budget"] and "120 posts" in alerts[0].detail
    usage = [json.loads(v) for v in _read_topic(settings, settings.kafka.usage_topic)]
    assert usage and usage[-1]["paused"] and usage[-1]["reads_month"] == 120


def test_audience_readings(settings: Settings, clock: FakeClock) -> None:
    ensure_topics(settings.kafka, settings.kafka.all_topics())
    watch = load_watch()
    handles = [a for _, e in watch.entries() for a in e.accounts]
    with FakeX(TOKEN, keepalive_s=0.1, clock=clock.now) as fake:
        fake.set_users(
            {
                h: x_user(str(7000 + i), h, followers=1000 * (i + 1))
                for i, h in enumerate(handles[:-1])
            }
        )  # the last one is unknown
        source = XSource(_x(fake), watch, clock=clock, sync_rules=False)
        runner, t = _run_source(settings, source)
        try:
            deadline = time.monotonic() + 30
            while runner.counters.get("account_records", 0) < len(handles) - 1:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        finally:
            runner.stop()
            t.join(30)
            runner.close()
    snaps = [json.loads(v) for v in _read_topic(settings, settings.kafka.accounts_topic)]
    by_name = {s["username"]: s for s in snaps}
    assert set(by_name) == set(handles[:-1])
    assert by_name["orbital"]["entry"] == "Orbital Telecom"
    assert by_name["orbital"]["followers_count"] == 1000


def test_compliance_removes_posts_from_every_query(ch: Any, clickhouse: Any) -> None:
    sink = ClickHouseSink(clickhouse, client=ch)
    sink.start()
    for i in range(30):
        sink.add(
            make_enriched(
                3000 + i,
                f"post {i} #Orbital",
                topics=("outage",),
                entities={"hashtags": [{"tag": "Orbital"}]},
            )
        )
    samples = [{"id": str(3000 + i), "author": "someone", "text": f"post {i}"} for i in (0, 1, 20)]
    sink.add(
        Alert(
            key="crisis:Orbital:1",
            kind="crisis",
            title="Crisis",
            entry="Orbital Telecom",
            data={"samples": samples, "posts": 30},
        )
    )
    # dead letters: a post of its own, one that quotes a post to remove (X includes it), another
    holding = b'{"data":{"id":"3001","text":"post 1"}}'
    quoting = b'{"data":{"id":"9","text":"q"},"includes":{"tweets":[{"id": "3002","text":"x"}]}}'
    other = b'{"data":{"id":"3020","text":"post 20"}}'
    for n, payload in enumerate((holding, quoting, other)):
        sink.add(DeadLetter(stage="process", source=f"kafka:{n}", reason="bad", payload=payload))
    sink.flush()
    with FakeX(TOKEN, compliance_polls=2) as fake:
        gone = {str(3000 + i): "deleted" for i in range(5)}
        gone["3010"] = "suspended"
        fake.mark_deleted(gone)  # type: ignore[arg-type]
        result = check(ch, _x(fake), poll_s=0.01)
    assert result.checked == 30 and result.removed == 6
    assert result.reasons == {"deleted": 5, "suspended": 1}
    assert ch.command("SELECT count() FROM posts FINAL") == 24
    for name, total in (
        ("mentions_over_time", 1),
        ("sentiment_by_brand", 2),
        ("share_of_voice", 2),
    ):
        _, rows = queries.run(ch, name)
        assert sum(r[total] for r in rows) == 24, name
    _, tags = queries.run(ch, "top_hashtags")
    assert tags[0][1] == 24
    _, recent = queries.run(ch, "recent_posts", {"limit": "100"})
    assert {r[0] for r in recent}.isdisjoint(gone)
    assert ch.command("SELECT count() FROM deleted_posts FINAL") == 6
    # the alert's samples no longer quote the removed posts; what else it says is kept
    [(data,)] = ch.query("SELECT data FROM alerts FINAL").result_rows
    assert json.loads(data) == {"samples": [samples[2]], "posts": 30}
    # and no dead letter holds them any more
    left = ch.query("SELECT payload FROM dead_letters FINAL").result_rows
    assert [r[0].encode() for r in left] == [other]
    # a replayed or redelivered copy of a removed post does not bring it back
    for i in (0, 10, 29):
        sink.add(make_enriched(3000 + i, f"post {i} #Orbital", topics=("outage",)))
    result_again = sink.flush()
    assert result_again.posts == 1
    assert ch.command("SELECT count() FROM posts FINAL") == 24
    _, rows = queries.run(ch, "mentions_over_time")
    assert sum(r[1] for r in rows) == 24


def test_a_failed_compliance_run_is_retried_after_a_backoff(ch: Any, clickhouse: Any) -> None:
    """X (or ClickHouse) away during a compliance run: the run is counted as failed and tried
    again after a short backoff, not after the whole interval, and the next one succeeds."""
    from sinks.compliance import ComplianceSchedule

    attempts: list[float] = []

    class Borrowed:  # the test's client, which the run must not close
        def __getattr__(self, name: str) -> Any:
            return getattr(ch, name)

        def close(self) -> None:
            pass

    def connect() -> Any:
        attempts.append(time.monotonic())
        if len(attempts) <= 2:
            raise ConnectionError("ClickHouse is away")
        return Borrowed()

    with FakeX(TOKEN) as fake:
        schedule = ComplianceSchedule(
            connect, _x(fake), interval_s=3600, first_after_s=0.01, retry_first_s=0.2
        )
        schedule.start()
        try:
            deadline = time.monotonic() + 20
            while schedule.runs == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            schedule.stop()
    assert (schedule.failures, schedule.runs) == (2, 1)
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    assert 0.2 <= gaps[0] < 5 and 0.4 <= gaps[1] < 5  # 0.2 s, then doubled


def test_token_never_in_output(
    capfd: pytest.CaptureFixture[str], clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    from pipeline.cli.common import setup_logging

    setup_logging("DEBUG")
    try:
        with FakeX("another-token", keepalive_s=0.1) as fake:  # X refuses our token
            stream = xapi.streaming_client(_x(fake), FilteredStream, clock=clock)
            with pytest.raises(xapi.XAuthError) as err:
                stream.run()
            s = _x(fake)
            text = repr(s) + str(s) + repr(err.value) + str(stream.__dict__.get("counters"))
            with pytest.raises(xapi.XAuthError):
                rules_sync.current(stream)
    finally:
        setup_logging("WARNING")
    out, errout = capfd.readouterr()
    for blob in (text, out, errout, caplog.text):
        assert TOKEN not in blob


def test_backfill_command_reads_a_past_period(settings: Settings) -> None:
    from factories import run_veille

    k = settings.kafka
    ensure_topics(k, k.all_topics())
    now = datetime.now(UTC)  # `veille backfill` runs in its own process, on real time
    old = [
        x_payload(
            1_900_000_000_000_002_100 - i,
            f"Orbital old {i}",
            created_at=now - timedelta(hours=5, minutes=i),
        )
        for i in range(30, 0, -1)
    ]
    recent = [
        x_payload(
            1_900_000_000_000_003_000 + i,
            f"Orbital recent {i}",
            created_at=now - timedelta(minutes=90 - i),
        )
        for i in range(50)
    ]
    with FakeX(TOKEN, search_matches_query=True) as fake:
        fake.add_posts(old + recent)
        env = {
            "X_BEARER_TOKEN": TOKEN,
            "X_API_BASE_URL": fake.base_url,
            "X_SEARCH_MAX_RESULTS": "10",
            "KAFKA_BOOTSTRAP_SERVERS": k.servers,
            "KAFKA_RAW_TOPIC": k.raw_topic,
            "KAFKA_DLQ_TOPIC": k.dlq_topic,
        }
        proc = run_veille("backfill", "--since", "2h", env=env, timeout=120)
        assert proc.returncode == 0, proc.stderr[-2000:]
        searches = len(fake.search_queries)
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    queries = gap_fill_queries(load_watch(), XSettings().search_query_max_length)
    assert out["search_queries"] == len(queries) < len(compile_rules(load_watch()))
    assert out["produced"] == out["posts_read"] == 50  # each post once: the rules are packed
    # five pages of 10 for the query holding Orbital's rule, one empty page for each other
    assert searches == out["search_requests"] == 5 + len(queries) - 1
    ids = {json.loads(v)["id"] for v in _read_topic(settings, k.raw_topic)}
    assert ids == {p["data"]["id"] for p in recent}


def test_the_saved_stream_position_moves_only_over_posts_kafka_acknowledged(
    tmp_path: Any,
) -> None:
    """Where a restart fills the gap from: the newest post time among posts Kafka holds, not
    the newest read (before, a post read but never delivered was skipped after a restart)."""
    from datetime import UTC, datetime

    source = XSource(XSettings(bearer_token="t"), load_watch(), state_dir=tmp_path)
    t1, t2 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC), datetime(2026, 12, 7, 9, 5, tzinfo=UTC)
    source._accept(json.dumps(x_payload(1, created_at=t1)).encode(), "x:stream")
    source._accept(json.dumps(x_payload(2, created_at=t2)).encode(), "x:stream")
    first, second = source._queue.get_nowait(), source._queue.get_nowait()
    assert (first.position, second.position) == (t1.isoformat(), t2.isoformat())
    source.acknowledged(first.position)  # the second is still in flight
    source._save_last_seen()
    saved = json.loads((tmp_path / "x-stream.json").read_text())["last_seen"]
    assert saved == t1.isoformat()
    source.acknowledged(second.position)
    source._save_last_seen()
    assert json.loads((tmp_path / "x-stream.json").read_text())["last_seen"] == t2.isoformat()


def test_a_gap_older_than_recent_search_is_filled_as_far_as_it_goes_and_told(
    settings: Settings, clock: FakeClock, tmp_path: Any
) -> None:
    """Nine days stopped: the gap fill asks only for the 7 days recent search covers (X refuses
    older starts with a 400, which used to stop the source on every restart), says what is lost
    as an alert, and the stream runs on."""
    ensure_topics(settings.kafka, settings.kafka.all_topics())
    stopped = clock.now() - timedelta(days=9)
    (tmp_path / "x-stream.json").write_text(json.dumps({"last_seen": stopped.isoformat()}))
    recent = [x_payload(1_950_000_000_000_000_001, "Orbital is down", created_at=clock.now())]
    with FakeX(TOKEN, clock=clock.now, keepalive_s=0.1) as fake:
        fake.add_posts(recent)
        source = XSource(_x(fake), ONE_RULE, clock=clock, audience=False, state_dir=tmp_path)
        runner, t = _run_source(settings, source)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not (source.gap_fills and source.caught_up()):
                time.sleep(0.1)
            assert source.gap_fills and source.caught_up(), source.metrics()
            assert source._error is None and not source.stopping  # the stream runs on
        finally:
            runner.stop()
            t.join(30)
            runner.close()
        starts = [q["start_time"] for q in fake.search_queries]
    assert starts and all(
        datetime.fromisoformat(s.replace("Z", "+00:00")) >= clock.now() - timedelta(days=7)
        for s in starts
    )
    ids = {json.loads(v)["id"] for v in _read_topic(settings, settings.kafka.raw_topic)}
    assert ids == {str(1_950_000_000_000_000_001)}
    alerts = [
        Alert.model_validate_json(v) for v in _read_topic(settings, settings.kafka.alerts_topic)
    ]
    [gap] = [a for a in alerts if a.kind == "x_gap"]
    assert gap.data["start"].startswith(stopped.date().isoformat())
    assert "7 days" in gap.detail and source.gaps_lost == 1


def test_stopping_with_a_full_queue_does_not_hang_and_saves_state(tmp_path: Any) -> None:
    """SIGTERM while the runner no longer empties the queue: stop() used to block for ever on
    putting the last usage reading, and the usage and stream position were never saved."""
    from types import SimpleNamespace

    from ingest.base import SourceRecord

    source = XSource(XSettings(bearer_token="t"), load_watch(), state_dir=tmp_path)
    source.stream = SimpleNamespace(stop=lambda: None)  # type: ignore[assignment]
    while not source._queue.full():
        source._queue.put_nowait(SourceRecord(b"{}", "x:stream"))
    stopper = threading.Thread(target=source.stop, daemon=True)
    stopper.start()
    stopper.join(5)
    assert not stopper.is_alive()
    assert (tmp_path / "x-usage.json").is_file() and (tmp_path / "x-stream.json").is_file()


def test_a_line_that_never_ends_drops_the_connection_not_the_memory() -> None:
    from ingest.x.stream import MAX_LINE_BYTES

    stream = xapi.streaming_client(XSettings(bearer_token="t"), FilteredStream)
    stream.running = True
    posts: list[bytes] = []
    stream.on_post = posts.append
    chunk = b"x" * (1024 * 1024)

    class Endless:
        def iter_content(self, chunk_size: Any = None) -> Any:
            yield b'{"data": {"id": "1"}}\r\n'
            while True:
                yield chunk

    stream._read(Endless())  # type: ignore[arg-type]
    assert posts == [b'{"data": {"id": "1"}}'] and stream.counters["oversized_lines"] == 1
    assert MAX_LINE_BYTES < 16 * len(chunk)
