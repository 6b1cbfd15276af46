"""`veille bench e2e`: the whole pipeline's throughput and latency, and two references.

One run, one embedded broker (Tansu, started here), one chDB directory, in four phases:

1. throughput — the pipeline exactly as `veille up` runs it (`pipeline.supervisor.Pipeline`: each
   stage its own process; the processor is `veille process` with the default enrichment and
   the alert agents, as many workers as `veille up` starts), fed unpaced by the replay of N
   synthetic X payloads written to a file beforehand (`--source replay`: ingest parses,
   serialises and produces as it does X's payloads; `--source synthetic`: the generator runs in
   the ingest stage, `--rate 0 --count N`). Counted in
   ClickHouse afterwards: `posts_per_s` = distinct stored posts / (max(stored_at) -
   min(received_at)), i.e. from the moment ingest parsed the first post to the moment
   ClickHouse inserted the last batch.
2. pass-through reference — `passthrough` reads the N raw posts of phase 1 (own group) and
   re-produces them unchanged: messages / (last delivery confirmed - first message received).
3. naive Faust reference — `naive_faust` reads the first N2 of the same raw posts (own group)
   and enriches them one event at a time: posts / (last send flushed - first event received).
4. latency — the pipeline again (its own topics, groups and database), the source paced at R
   posts/s for S seconds (`--rate R --count R*S`); per post, stored_at - received_at (one
   machine, one clock), p50 and p99 computed in SQL over every post, none excluded.

In both pipeline runs the source starts only once the processor's and the sink's consumer
groups have been stable (partitions assigned) for a second, so the group join (~3 s on Tansu)
is in neither the throughput window nor the latencies. Peak RSS (`VmHWM`) and CPU time of
each stage process are sampled every 0.2 s while it runs and once more before it is stopped;
CPU time counts from the moment the source starts (the ingest stage's own start-up included).

chDB allows one process per directory: the results are read only after every stage stopped.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline.bench.phases import (
    TOPIC_FIELDS,
    BenchError,
    check_data_dir,
    make_phase,
    run_data_dir,
    run_pipeline,
)
from pipeline.bench.procfs import PeakRss, status_kb
from pipeline.bench.references import run_naive_faust, run_passthrough
from pipeline.embedded import LocalBroker
from pipeline.sources import SourceName, SourceOptions
from pipeline.supervisor import UpOptions
from veille.settings import Settings

__all__ = [
    "TOPIC_FIELDS",
    "BenchError",
    "E2EOptions",
    "latency_figures",
    "make_phase",
    "query_results",
    "run",
]


@dataclass
class E2EOptions:
    """What `veille bench e2e` was asked to measure."""

    posts: int = 100_000
    source: str = "replay"
    """Where the throughput run's posts come from: "replay" (the default), N synthetic X
    payloads written to a file before the run and replayed unpaced, so that ingest costs what
    it costs on X's payloads (parse, serialise, produce) and not the generator's work; or
    "synthetic", the generator itself in the ingest stage."""
    rate_latency: float = 1000.0
    latency_seconds: float = 20.0
    naive_posts: int = 3_000
    seed: int = 0
    sentiment: str | None = None
    watch: Path | None = None
    data_dir: Path | None = None  # None: a temporary directory, removed afterwards
    profile: Path | None = None
    """A folder for py-spy profiles of every stage of the throughput run (`bench.profile`)."""

    def validate(self) -> None:
        if self.posts < 1 or self.naive_posts < 1:
            raise ValueError("--posts and --naive-posts must be at least 1")
        if self.source not in ("replay", "synthetic"):
            raise ValueError(f"--source must be replay or synthetic, not {self.source!r}")
        if self.rate_latency <= 0 or self.latency_seconds <= 0:
            raise ValueError("--rate-latency and --latency-seconds must be positive")
        check_data_dir(self.data_dir)


def query_results(data_dir: Path, throughput_db: str, latency_db: str) -> dict[str, Any]:
    """Throughput and latency figures computed by ClickHouse (chDB) from the stored posts.

    Opens the chDB directory: call it only when no other process holds it."""
    from sinks.clickhouse import connect
    from veille.settings import ClickHouseSettings

    client = connect(ClickHouseSettings(url=None, database=throughput_db), data_dir / "clickhouse")
    try:
        t = client.query(
            f"""
            SELECT uniqExact(id) AS stored, count() AS rows,
                   (toUnixTimestamp64Milli(max(stored_at))
                    - toUnixTimestamp64Milli(min(received_at))) / 1000 AS window_s
            FROM `{throughput_db}`.posts"""
        ).named_results()
        throughput = next(iter(t))
        latency = latency_figures(client, latency_db)
    finally:
        client.close()
    return {"throughput": throughput, "latency": latency}


def latency_figures(client: Any, database: str, since_ms: int = 0) -> dict[str, Any]:
    """Per distinct post of `database`.posts received at or after `since_ms` (Unix ms):
    stored_at - received_at in seconds (one machine, one clock), its quantiles p50, p90, p99
    and max over every such post, none excluded; `posts` counted and `source_s`, the span of
    their reception. Computed by ClickHouse through `client` (clickhouse-connect)."""
    rows = client.query(
        f"""
        SELECT count() AS posts,
               quantileExact(0.5)(latency_s) AS p50,
               quantileExact(0.9)(latency_s) AS p90,
               quantileExact(0.99)(latency_s) AS p99,
               max(latency_s) AS max,
               (toUnixTimestamp64Milli(max(received))
                - toUnixTimestamp64Milli(min(received))) / 1000 AS source_s
        FROM (
            SELECT id, min(received_at) AS received, min(stored_at) AS stored,
                   (toUnixTimestamp64Milli(stored) - toUnixTimestamp64Milli(received))
                       / 1000 AS latency_s
            FROM `{database}`.posts
            GROUP BY id
            HAVING toUnixTimestamp64Milli(received) >= {{since_ms:Int64}}
        )""",
        parameters={"since_ms": since_ms},
    ).named_results()
    return dict(next(iter(rows)))


def _load() -> float | None:
    """The 1-minute load average (other work on a shared machine shows here)."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def _up(o: E2EOptions, rate: float | None, count: int, seed: int | None = None) -> UpOptions:
    """The synthetic source as `veille up --rate R --count N` runs it (rate None: unpaced)."""
    return UpOptions(
        source=SourceOptions(rate=rate, count=count, seed=o.seed if seed is None else seed),
        watch=o.watch,
        sentiment=o.sentiment,
    )


def write_payloads(path: Path, o: E2EOptions, watch_file: Path | None) -> Path:
    """The first `o.posts` payloads of the synthetic source (seed `o.seed`, the watch file the
    pipeline reads), one X API v2 payload per line, as `--source replay` reads them."""
    from ingest.synthetic import SyntheticSource
    from veille.watch import load_watch

    watch = load_watch(o.watch or watch_file)
    source = SyntheticSource(watch, rate=None, seed=o.seed, count=o.posts)
    with path.open("wb") as fh:
        for payload in source.payloads():
            fh.write(payload.rstrip(b"\n") + b"\n")
    return path


def _replay(o: E2EOptions, posts_file: Path) -> UpOptions:
    """The replay of `posts_file`, unpaced, as `veille up --source replay --input F` runs it."""
    return UpOptions(
        source=SourceOptions(source=SourceName.replay, inputs=[posts_file], rate=None),
        watch=o.watch,
        sentiment=o.sentiment,
    )


def run(
    base: Settings,
    options: E2EOptions,
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Run the four phases and return the figures (see the module docstring).

    Raises `BenchError` when a phase fails, `ValueError` on bad options. The broker and every
    process started here are stopped in every case; a temporary data directory is removed.
    """
    options.validate()
    started = time.monotonic()
    load_before = _load()
    date = datetime.now(UTC).isoformat(timespec="seconds")
    data_dir, temporary = run_data_dir(options.data_dir, "veille-bench-")
    ref_dir = data_dir / "run-references"
    ref_dir.mkdir()
    naive_posts = min(options.naive_posts, options.posts)
    latency_count = max(1, round(options.rate_latency * options.latency_seconds))
    broker = LocalBroker(log_file=data_dir / "broker.log")
    try:
        broker.start()
        proc = getattr(broker, "_proc", None)
        broker_pid: int | None = proc.pid if proc is not None else None
        tput = make_phase(base, "throughput", broker.bootstrap_servers, data_dir)
        lat = make_phase(base, "latency", broker.bootstrap_servers, data_dir)

        if options.source == "replay":
            progress(f"writing {options.posts} synthetic X payloads to replay")
            posts_file = write_payloads(
                data_dir / "throughput-posts.ndjson", options, base.veille.watch_file
            )
            up = _replay(options, posts_file)
        else:
            up = _up(options, rate=None, count=options.posts)
        progress(f"throughput: the pipeline on {options.posts} posts, {options.source} unpaced")
        t_run = run_pipeline(tput, up, broker_pid, profile=options.profile)
        progress(f"pass-through reference: {options.posts} raw messages")
        t0 = time.monotonic()
        passthrough = run_passthrough(tput, options.posts, ref_dir)
        passthrough_s = time.monotonic() - t0
        progress(f"naive Faust reference: {naive_posts} posts, one event at a time")
        t0 = time.monotonic()
        naive = run_naive_faust(tput, naive_posts, ref_dir, options.sentiment)
        naive_s = time.monotonic() - t0
        progress(
            f"latency: the pipeline at {options.rate_latency:g} posts/s "
            f"for {options.latency_seconds:g} s ({latency_count} posts)"
        )
        l_run = run_pipeline(
            lat,
            _up(options, rate=options.rate_latency, count=latency_count, seed=options.seed + 1),
            broker_pid,
        )
        broker_end_kb = status_kb(broker_pid) if broker_pid is not None else None
    finally:
        broker.stop()
    try:
        progress("counting in ClickHouse")
        figures = query_results(data_dir, tput.database, lat.database)
    finally:
        if temporary:
            shutil.rmtree(data_dir, ignore_errors=True)

    th, la = figures["throughput"], figures["latency"]
    window = float(th["window_s"])
    posts_per_s = int(th["stored"]) / window if window > 0 else 0.0
    rss = PeakRss()
    rss.merge(t_run.rss)
    rss.merge(l_run.rss)
    v, k = base.process, base.kafka
    return {
        "posts": options.posts,
        "stored": int(th["stored"]),
        "stored_rows": int(th["rows"]),
        "dead_lettered": int(t_run.summary.get("dead_lettered", 0)),
        "window_s": round(window, 3),
        "posts_per_s": round(posts_per_s, 1),
        "passthrough_msgs": int(passthrough["messages"]),
        "passthrough_msgs_per_s": passthrough["msgs_per_s"],
        "naive_faust_posts": int(naive["posts"]),
        "naive_faust_posts_per_s": naive["posts_per_s"],
        "ratio_to_passthrough": round(posts_per_s / passthrough["msgs_per_s"], 4),
        "ratio_to_naive_faust": round(posts_per_s / naive["posts_per_s"], 2),
        "latency_rate": options.rate_latency,
        "latency_seconds": options.latency_seconds,
        "latency_posts": int(la["posts"]),
        "latency_source_rate": round(int(la["posts"]) / float(la["source_s"]), 1)
        if float(la["source_s"]) > 0
        else 0.0,
        "p50_latency_s": round(float(la["p50"]), 3),
        "p99_latency_s": round(float(la["p99"]), 3),
        "max_latency_s": round(float(la["max"]), 3),
        "peak_rss_mb": rss.mb(),
        "broker_rss_end_mb": round((broker_end_kb or 0) * 1024 / 1e6, 1),
        "cpu_s": t_run.cpu_s,
        "cpu_ms_per_post": round(1000 * sum(t_run.cpu_s.values()) / max(1, int(th["stored"])), 3),
        "process_cpu_ms_per_post": round(
            1000
            * sum(v for n, v in t_run.cpu_s.items() if n.startswith("process"))
            / max(1, int(th["stored"])),
            3,
        ),
        "naive_faust_cpu_ms_per_post": round(1000 * naive["cpu_s"] / max(1, naive["posts"]), 3),
        "passthrough_cpu_ms_per_msg": round(
            1000 * passthrough["cpu_s"] / max(1, passthrough["messages"]), 4
        ),
        "reference_peak_rss_mb": {
            "passthrough": passthrough.get("peak_rss_mb"),
            "naive_faust": naive.get("peak_rss_mb"),
        },
        "groups_ready_s": {
            "throughput": round(t_run.groups_ready_s, 2),
            "latency": round(l_run.groups_ready_s, 2),
        },
        "phase_seconds": {
            "throughput": round(t_run.seconds, 1),
            "passthrough": round(passthrough_s, 1),
            "naive_faust": round(naive_s, 1),
            "latency": round(l_run.seconds, 1),
        },
        "cores": os.cpu_count(),
        "load_avg_1m": {"before": load_before, "after": _load()},
        "settings": {
            "source": options.source,
            "sentiment": options.sentiment or base.sentiment.backend,
            "process_workers": t_run.workers,
            "process_batch_size": v.batch_size,
            "process_batch_window_s": v.batch_window_s,
            "sink_batch_rows": base.sink.batch_rows,
            "sink_flush_interval_s": base.sink.flush_interval_s,
            "partitions": k.partitions,
            "linger_ms": k.linger_ms,
            "compression": k.compression,
            "session_timeout_ms": k.session_timeout_ms,
        },
        "date": date,
        "run_seconds": round(time.monotonic() - started, 1),
    }
