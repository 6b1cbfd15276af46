"""Each stage's /metrics, scraped over HTTP after it processed real records on the local broker
(and chDB): the values are the records processed, the lag is read from the Kafka clients, the
X source's usage and backoff show, and a port that is off or taken does not stop a stage."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from factories import make_enriched, make_post, x_payload
from prometheus_client.parser import text_string_to_metric_families

from ingest.replay import ReplaySource
from ingest.runner import IngestRunner
from ingest.x.clock import FakeClock
from ingest.x.source import XSource
from ingest.x.stream import FilteredStream
from pipeline.supervisor import Pipeline, UpOptions
from sinks.clickhouse import ClickHouseSink
from sinks.runner import SinkRunner
from veille import metrics
from veille.kafka import Producer, ensure_topics
from veille.models import DeadLetter
from veille.settings import MetricsSettings, Settings, VeilleSettings, XSettings
from veille.watch import parse_watch

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(url: str) -> Samples:
    """Every sample of a /metrics page: (name, labels) -> value."""
    with urllib.request.urlopen(url, timeout=10) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain")
        text = r.read().decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value; fails when the page does not have it."""
    key = (name, frozenset(labels.items()))
    assert key in samples, f"{name}{labels} not served; served: {sorted(k[0] for k in samples)}"
    return samples[key]


def by_label(samples: Samples, name: str, label: str, **where: str) -> dict[str, float]:
    out = {}
    for (n, labels), v in samples.items():
        d = dict(labels)
        if n == name and all(d.get(k) == w for k, w in where.items()):
            out[d[label]] = v
    return out


@pytest.fixture
def server() -> Iterator[metrics.MetricsServer]:
    s = metrics.MetricsServer("127.0.0.1", 0)
    yield s
    s.close()


@pytest.fixture(autouse=True)
def _unbind() -> Iterator[None]:
    yield
    for stage in metrics.STAGES:
        metrics.unbind(stage)


def _wait(done: Callable[[], bool], what: Callable[[], Any], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"timed out: {what()}"
        time.sleep(0.1)


# -- sink ---------------------------------------------------------------------------------------


def test_sink_serves_what_it_wrote_and_its_lag(
    settings: Settings, ch: Any, server: metrics.MetricsServer
) -> None:
    k = settings.kafka
    ensure_topics(k, k.all_topics())
    posts = [make_enriched(7000 + i) for i in range(250)]
    p = Producer(k, "test")
    p.start()
    for post in posts:
        p.produce(k.enriched_topic, post.model_dump_json().encode(), key=post.key)
    p.produce(k.enriched_topic, b'{"id": "not a post"}', key=b"bad")
    dl = DeadLetter(stage="ingest", source="replay:f:1", reason="invalid JSON", payload=b"{oops")
    p.produce(k.dlq_topic, dl.model_dump_json().encode(), key=dl.key)
    p.produce(k.dlq_topic, b"\xff not even a dead letter")
    p.close()

    runner = SinkRunner(settings, ClickHouseSink(settings.clickhouse, client=ch))
    metrics.watch_sink(runner)
    before = scrape(server.url)
    assert value(before, "veille_stage_running", stage="sink") == 0  # not started
    runner.start()
    t = threading.Thread(target=runner.run, daemon=True)
    t.start()
    try:
        # 251 enriched records, 2 dead letters, and the one the sink made of the bad record
        _wait(
            lambda: (
                runner.counters["consumed"] == 254
                and runner.counters["posts"] == 250
                and runner.counters["dead_letters"] == 3
                and runner.sink.pending == 0
            ),
            lambda: runner.counters,
        )
        # while it runs: its lag comes with librdkafka's statistics, every 5 s
        after: Samples = {}

        def lag_known() -> bool:
            nonlocal after
            after = scrape(server.url)
            lag = by_label(after, "veille_consumer_lag", "partition", topic=k.enriched_topic)
            return set(lag) == {"0", "1"}

        _wait(lag_known, lambda: by_label(after, "veille_consumer_lag", "partition"), 30)
    finally:
        runner.stop()
        t.join(30)
        runner.close()
    assert ch.command("SELECT count() FROM posts FINAL") == 250

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - before.get((name, frozenset(labels.items())), 0.0)

    assert value(after, "veille_stage_running", stage="sink") == 1
    assert value(after, "veille_records_in_total", stage="sink") == 254
    assert value(after, "veille_posts_out_total", stage="sink") == 250
    assert delta("veille_sink_rows_total", table="posts") == 250
    assert delta("veille_sink_rows_total", table="dead_letters") == 3
    assert delta("veille_dead_letters_total", stage="sink", reason="invalid_enriched_post") == 1
    assert delta("veille_dead_letters_total", stage="sink", reason="malformed_dead_letter") == 1
    # every row written was in an observed batch, one per commit that inserted
    assert delta("veille_batch_records_sum", stage="sink") == 253
    batches = delta("veille_batch_records_count", stage="sink")
    assert 1 <= batches <= value(after, "veille_sink_commits_total")
    assert value(after, "veille_sink_inserts_total") >= batches
    assert delta("veille_batch_seconds_count", stage="sink") == batches
    assert value(after, "veille_sink_pending_records") == 0
    assert value(after, "veille_sink_backoff_seconds") == 0
    assert value(after, "veille_sink_retries_total") == 0
    # everything written and committed: nothing behind, on every partition of its topics
    lag = by_label(after, "veille_consumer_lag", "partition", stage="sink", topic=k.enriched_topic)
    assert lag == {"0": 0, "1": 0}
    lag = by_label(after, "veille_consumer_lag", "partition", stage="sink", topic=k.dlq_topic)
    assert set(lag.values()) <= {0}


def test_kafka_lag_reads_librdkafka_statistics() -> None:
    lag = metrics.KafkaLag()
    partition = {"consumer_lag": 7, "hi_offset": 107, "committed_offset": 100}
    lag.on_stats(
        json.dumps(
            {
                "topics": {
                    "tweets.enriched": {
                        "partitions": {
                            "0": partition,
                            "1": {"consumer_lag": -1},  # not known yet: left out
                            "-1": {"consumer_lag": 0},  # librdkafka's internal partition
                        }
                    }
                }
            }
        )
    )
    assert lag() == {("tweets.enriched", 0): 7}
    lag.on_stats("not json")  # kept as it was
    assert lag() == {("tweets.enriched", 0): 7}
    assert lag.config()["statistics.interval.ms"] == 5000


def test_sink_backoff_shows_while_clickhouse_is_down(
    settings: Settings, ch: Any, server: metrics.MetricsServer
) -> None:
    from sinks.base import FlushResult, SinkUnavailable

    class Down(ClickHouseSink):
        def flush(self) -> FlushResult:
            raise SinkUnavailable("connection refused", retry_after=0.3)

    k = settings.kafka
    ensure_topics(k, k.all_topics())
    p = Producer(k, "test")
    p.start()
    for post in [make_enriched(8000 + i) for i in range(20)]:
        p.produce(k.enriched_topic, post.model_dump_json().encode(), key=post.key)
    p.close()
    runner = SinkRunner(settings, Down(settings.clickhouse, client=ch))
    metrics.watch_sink(runner)
    runner.start()
    t = threading.Thread(target=runner.run, daemon=True)
    t.start()
    try:
        _wait(lambda: runner.counters["retries"] >= 2, lambda: runner.counters)
        got = scrape(server.url)
    finally:
        runner.stop()
        t.join(30)
        runner.close(timeout=0)  # ClickHouse stays down: nothing written, nothing committed
    assert value(got, "veille_sink_retries_total") >= 2
    assert value(got, "veille_sink_backoff_seconds") >= 0.3
    assert value(got, "veille_sink_pending_records") == 20
    assert value(got, "veille_posts_out_total", stage="sink") == 0


# -- ingest -------------------------------------------------------------------------------------


def test_ingest_serves_what_it_produced(
    settings: Settings, tmp_path: Path, server: metrics.MetricsServer
) -> None:
    k = settings.kafka
    ensure_topics(k, [k.raw_topic, k.dlq_topic])
    good = [json.dumps(x_payload(500 + i, f"post {i} about Orbital")).encode() for i in range(40)]
    bad = [b'{"data": {"id": "1", "text": "truncated', b"\xff\xfe not utf-8", b"[]"]
    path = tmp_path / "mixed.ndjson"
    path.write_bytes(b"\n".join(good[:20] + bad + good[20:]) + b"\n")
    runner = IngestRunner(settings, ReplaySource([path]))
    metrics.watch_ingest(runner)
    before = scrape(server.url)
    runner.start()
    runner.run()
    runner.close()
    after = scrape(server.url)
    dead = by_label(after, "veille_dead_letters_total", "reason", stage="ingest")
    dead_before = by_label(before, "veille_dead_letters_total", "reason", stage="ingest")
    assert value(after, "veille_stage_running", stage="ingest") == 1
    assert value(after, "veille_records_in_total", stage="ingest") == 43
    assert value(after, "veille_posts_out_total", stage="ingest") == 40
    assert sum(dead.values()) - sum(dead_before.values()) == 3
    assert dead["invalid_payload"] - dead_before.get("invalid_payload", 0) == 3
    # no X source: no X figures
    assert not [name for name, _ in after if name.startswith("veille_x_")]


def test_x_source_usage_budget_and_backoff(
    settings: Settings, server: metrics.MetricsServer
) -> None:
    clock = FakeClock()
    source = XSource(
        XSettings(bearer_token="t", monthly_budget_usd=1.0, price_per_post_usd=0.005),
        parse_watch({"brands": [{"name": "Orbital"}]}),
        clock=clock,
        audience=False,
    )
    for post_id in (1, 2, 3, 2):  # the second read of 2 is a duplicate, not billed
        source.meter.record(post_id, clock.now())
    # the stream as start() makes it (no connection is opened here), after failures
    source.stream = FilteredStream("t", clock=clock)
    source.stream.counters.update(connections=2, backoff_http=1, backoff_rate_limit=3)
    source.stream.backoff.next("rate_limit")
    source.stream.backoff.next("rate_limit")
    runner = IngestRunner(settings, source)
    metrics.watch_ingest(runner)
    got = scrape(server.url)
    assert value(got, "veille_x_reads_today") == 3
    assert value(got, "veille_x_reads_month") == 3
    assert value(got, "veille_x_duplicates_today") == 1
    assert value(got, "veille_x_budget_posts") == 200
    assert value(got, "veille_x_cost_month_usd") == pytest.approx(0.015)
    assert value(got, "veille_x_paused") == 0
    assert value(got, "veille_x_stream_connections_total") == 2
    assert by_label(got, "veille_x_stream_backoffs_total", "kind") == {
        "http": 1,
        "rate_limit": 3,
    }
    assert by_label(got, "veille_x_stream_backoff_seconds", "kind") == {
        "network": 0,
        "http": 120,  # 60 s, then doubled
    }
    assert value(got, "veille_x_stream_backoff_at_max") == 0
    for _ in range(3):  # 240, then 320 s: the longest wait
        source.stream.backoff.next("http")
    got = scrape(server.url)
    assert value(got, "veille_x_stream_backoff_at_max") == 1
    assert by_label(got, "veille_x_stream_backoff_seconds", "kind")["http"] == 320
    source.stream.backoff.reset()  # connected again
    got = scrape(server.url)
    assert value(got, "veille_x_stream_backoff_at_max") == 0
    assert by_label(got, "veille_x_stream_backoff_seconds", "kind") == {"network": 0, "http": 0}


# -- process (the real `veille process` command) ------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_process_worker_serves_its_batches_and_lag(settings: Settings, tmp_path: Path) -> None:
    k = settings.kafka
    ensure_topics(k, k.all_topics())
    posts = [make_post(300 + i, f"@orbital_care plus de réseau {i}", lang="fr") for i in range(60)]
    p = Producer(k, "test")
    p.start()
    for post in posts[:30]:
        p.produce(k.raw_topic, post.model_dump_json().encode(), key=post.key)
    p.produce(k.raw_topic, b'{"id": "1", "text": "no author"}', key=b"1")
    for post in posts[30:]:
        p.produce(k.raw_topic, post.model_dump_json().encode(), key=post.key)
    p.close()

    port = _free_port()
    env = {
        **{kk: vv for kk, vv in os.environ.items() if not kk.startswith(("KAFKA_", "VEILLE_"))},
        "KAFKA_BOOTSTRAP_SERVERS": k.servers,
        "KAFKA_PARTITIONS": str(k.partitions),
        **{
            f"KAFKA_{name.upper()}": getattr(k, name)
            for name in type(k).model_fields
            if "topic" in name
        },
        "VEILLE_PROCESS_GROUP": settings.process.group,
        "VEILLE_PROCESS_BATCH_WINDOW_S": "0.2",
        "VEILLE_METRICS_PORT": str(port),
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "process", "--data-dir", str(tmp_path)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/metrics"
    got: Samples = {}

    def read() -> bool:
        nonlocal got
        assert worker.poll() is None, worker.stdout.read().decode()[-2000:]  # type: ignore[union-attr]
        try:
            got = scrape(url)
        except OSError:
            return False
        done = got.get(("veille_records_in_total", frozenset({("stage", "process")})), 0)
        lag = by_label(got, "veille_consumer_lag", "partition", topic=k.raw_topic)
        return done == 61 and len(lag) == k.partitions and not any(lag.values())

    try:
        _wait(read, lambda: {n: v for n, v in got.items() if n[0].startswith("veille_")}, 90)
    finally:
        worker.terminate()
        worker.wait(60)
    assert value(got, "veille_stage_running", stage="process") == 1
    assert value(got, "veille_posts_out_total", stage="process") == 60
    assert value(got, "veille_dead_letters_total", stage="process", reason="invalid_post") == 1
    assert value(got, "veille_dead_letters_total", stage="process", reason="enrichment_failed") == 0
    assert value(got, "veille_batch_records_sum", stage="process") == 61
    assert value(got, "veille_batch_records_count", stage="process") >= 1
    # one observation per post and watch entry (each post names Orbital's care account)
    assert value(got, "veille_observations_total") == 60
    assert value(got, "process_resident_memory_bytes") > 0


# -- serving ------------------------------------------------------------------------------------


def test_metrics_are_off_by_default_and_a_taken_port_does_not_stop_a_stage(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert MetricsSettings().port == 0
    assert metrics.serve(MetricsSettings()) is None
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with caplog.at_level(logging.ERROR, logger="veille.metrics"):
            assert metrics.serve(MetricsSettings(port=port)) is None
    assert f"cannot listen on 127.0.0.1:{port}" in caplog.text
    served = metrics.serve(MetricsSettings(port=_free_port()))
    assert served is not None
    try:
        with urllib.request.urlopen(served.url, timeout=10) as r:
            page = r.read().decode()
    finally:
        served.close()
    # nothing bound yet: every family is described, with no sample
    assert "# TYPE veille_records_in_total counter" in page
    assert "# TYPE veille_batch_records histogram" in page
    assert "veille_records_in_total{" not in page


def test_reason_classes_are_closed() -> None:
    assert metrics.reason_class("invalid X post payload: data.id: Field required") == (
        "invalid_payload"
    )
    assert metrics.reason_class("enrichment failed: RuntimeError('x')") == "enrichment_failed"
    assert metrics.reason_class("invalid enriched post: 3 validation errors") == (
        "invalid_enriched_post"
    )
    assert metrics.reason_class("a token sk-123 leaked in a message") == "other"


def test_veille_up_gives_each_stage_its_own_port(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    envs: dict[str, str | None] = {}

    class Popen:
        def __init__(self, cmd: list[str], env: dict[str, str], **kw: Any) -> None:
            envs[cmd[3] + str(len(envs))] = env.get("VEILLE_METRICS_PORT")
            self.pid = 0

    monkeypatch.setattr("pipeline.supervisor.subprocess.Popen", Popen)
    settings.metrics = settings.metrics.model_copy(update={"port": 9400})
    pipeline = Pipeline(settings, UpOptions(workers=2))
    pipeline.run_dir.mkdir(parents=True)
    pipeline._env = {"VEILLE_METRICS_PORT": "9400"}
    pipeline._spawn("sink", [])
    pipeline._spawn("process", [], command="process")
    pipeline._spawn("process-2", [], command="process")
    pipeline._spawn("ingest", [])
    assert envs == {"sink0": "9400", "process1": "9401", "process2": "9402", "ingest3": "9403"}
    off = Pipeline(Settings(veille=VeilleSettings(data_dir=tmp_path)), UpOptions(workers=1))
    off.run_dir.mkdir(parents=True)
    off._env = {}
    envs.clear()
    off._spawn("sink", [])
    assert envs == {"sink0": None}
