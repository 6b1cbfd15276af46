"""`veille bench e2e`: the whole pipeline's throughput and latency, and two references.

One run, one embedded broker (Tansu, started here), one chDB directory, in four phases:

1. throughput — the pipeline exactly as `veille up` runs it (`pipeline.supervisor.Pipeline`: each
   stage its own process; the processor is `veille process` with the default enrichment and
   the alert agents, as many workers as `veille up` starts), the synthetic source unpaced
   (`--rate 0 --count N`). Counted in
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

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline.bench.procfs import CpuUse, PeakRss, status_kb
from pipeline.embedded import LocalBroker
from pipeline.supervisor import Pipeline, UpOptions
from veille.settings import Settings

TOPIC_FIELDS = (
    "raw_topic",
    "enriched_topic",
    "dlq_topic",
    "alerts_topic",
    "accounts_topic",
    "usage_topic",
    "observations_topic",
)


class BenchError(RuntimeError):
    """A phase of the benchmark failed; the message says which and why (with log tails)."""


@dataclass
class E2EOptions:
    """What `veille bench e2e` was asked to measure."""

    posts: int = 30_000
    rate_latency: float = 500.0
    latency_seconds: float = 20.0
    naive_posts: int = 3_000
    seed: int = 0
    sentiment: str | None = None
    watch: Path | None = None
    data_dir: Path | None = None  # None: a temporary directory, removed afterwards

    def validate(self) -> None:
        if self.posts < 1 or self.naive_posts < 1:
            raise ValueError("--posts and --naive-posts must be at least 1")
        if self.rate_latency <= 0 or self.latency_seconds <= 0:
            raise ValueError("--rate-latency and --latency-seconds must be positive")
        if self.data_dir is not None and self.data_dir.exists() and any(self.data_dir.iterdir()):
            raise ValueError(f"--data-dir {self.data_dir} is not empty")


@dataclass
class Phase:
    """One pipeline run's settings, and the environment its stage processes read them from."""

    name: str
    settings: Settings
    env: dict[str, str]

    @property
    def database(self) -> str:
        return self.settings.clickhouse.database


def make_phase(base: Settings, name: str, bootstrap: str, data_dir: Path) -> Phase:
    """Settings of a run on its own topics, consumer groups and database (`bench_<name>`)."""
    topics = {f: f"bench.{name}.{getattr(base.kafka, f)}" for f in TOPIC_FIELDS}
    kafka = base.kafka.model_copy(update={"bootstrap_servers": bootstrap, **topics})
    veille = base.veille.model_copy(update={"data_dir": data_dir})
    process = base.process.model_copy(update={"group": f"bench-{name}-process"})
    sink = base.sink.model_copy(update={"group": f"bench-{name}-sink"})
    compliance = base.compliance.model_copy(update={"interval_h": 0.0})
    clickhouse = base.clickhouse.model_copy(update={"url": None, "database": f"bench_{name}"})
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        **{f"KAFKA_{f.upper()}": v for f, v in topics.items()},
        "VEILLE_PROCESS_GROUP": process.group,
        "VEILLE_SINK_GROUP": sink.group,
        "VEILLE_COMPLIANCE_INTERVAL_H": "0",
        "CLICKHOUSE_URL": "",  # always chDB under the data directory
        "CLICKHOUSE_DATABASE": clickhouse.database,
    }
    return Phase(
        name,
        Settings(
            kafka,
            clickhouse,
            base.x,
            veille,
            sentiment=base.sentiment,
            process=process,
            sink=sink,
            alert=base.alert,
            compliance=compliance,
            metrics=base.metrics,
        ),
        env,
    )


@contextmanager
def environ(env: dict[str, str]) -> Iterator[None]:
    """`os.environ` updated with `env` inside the block (stage processes inherit it)."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def wait_groups_stable(
    settings: Settings,
    groups: list[str],
    timeout: float,
    check: Callable[[], None],
    settle: float = 1.0,
) -> float:
    """Wait until every group has been Stable (partitions assigned) for `settle` seconds in a
    row (a worker that joins late would make its group rebalance); seconds waited.

    `check` is called between tries (it raises when a stage died). Raises `BenchError` after
    `timeout` seconds.
    """
    from confluent_kafka import ConsumerGroupState
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({**settings.kafka.admin_config(), "log_level": 3})
    started = time.monotonic()
    stable_since: float | None = None
    states: dict[str, Any] = {}
    while time.monotonic() - started < timeout:
        check()
        states = {}
        try:
            for group, fut in admin.describe_consumer_groups(groups).items():
                states[group] = fut.result(timeout=5).state
        except Exception as e:  # the broker may not know a group that has not joined yet
            states["error"] = repr(e)
        now = time.monotonic()
        if all(states.get(g) == ConsumerGroupState.STABLE for g in groups):
            stable_since = stable_since or now
            if now - stable_since >= settle:
                return stable_since - started
        else:
            stable_since = None
        time.sleep(0.2)
    raise BenchError(f"consumer groups not stable after {timeout:.0f}s: {states}")


class WarmPipeline(Pipeline):
    """`Pipeline` that spawns the ingest stage only once the processor's and the sink's
    consumer groups are stable, so that the source's first posts do not wait for a join;
    it samples the peak memory of its stages (and the broker's) and their CPU use from then.
    """

    def __init__(self, settings: Settings, options: UpOptions, broker_pid: int | None) -> None:
        super().__init__(settings, options)
        self.broker_pid = broker_pid
        self.groups_ready_s = 0.0
        self.rss = PeakRss()
        self.cpu = CpuUse()

    def pids(self) -> dict[str, int]:
        """The stages alive now, and the broker."""
        pids = {n: st.proc.pid for n, st in self.stages.items() if st.alive()}
        if self.broker_pid is not None:
            pids["broker"] = self.broker_pid
        return pids

    def sample(self, _: Pipeline | None = None) -> None:
        pids = self.pids()
        self.rss.sample(pids)
        self.cpu.sample(pids)

    def _spawn(self, name: str, *args: Any, **kwargs: Any) -> None:
        if name == "ingest":
            s = self.settings
            self.groups_ready_s = wait_groups_stable(
                s, [s.process.group, s.sink.group], 120.0, self.check
            )
            self.cpu.start(self.pids())
            self.started_at = time.monotonic()
        super()._spawn(name, *args, **kwargs)


@dataclass
class PipelineRun:
    summary: dict[str, Any]
    rss: PeakRss
    cpu_s: dict[str, float]
    groups_ready_s: float
    seconds: float
    workers: int


def run_pipeline(phase: Phase, options: UpOptions, broker_pid: int | None) -> PipelineRun:
    """Start, run until the source ends, drain, stop; stages' logs end in `run-<name>/`."""
    started = time.monotonic()
    with environ(phase.env):
        p = WarmPipeline(phase.settings, options, broker_pid)
        try:
            p.start()
            p.run(on_tick=p.sample, tick=0.2)
            p.stop_ingest()
            drained = p.drain(on_tick=p.sample)
            p.sample()
            p.stop()
        except BaseException as e:  # KeyboardInterrupt too: the stages run in their own sessions
            p.stop()
            if isinstance(e, Exception):
                raise BenchError(f"{phase.name} run failed: {e}") from e
            raise
    summary = p.summary()
    run_dir = phase.settings.veille.data_dir / "run"
    if run_dir.exists():
        run_dir.rename(run_dir.with_name(f"run-{phase.name}"))
    if not drained or not summary.get("complete"):
        raise BenchError(f"{phase.name} run did not complete: {summary}")
    workers = int(getattr(p, "workers", 1))
    return PipelineRun(
        summary, p.rss, p.cpu.seconds(), p.groups_ready_s, time.monotonic() - started, workers
    )


def _child_env(phase: Phase) -> dict[str, str]:
    return {**os.environ, **phase.env}


def run_passthrough(phase: Phase, count: int, log_dir: Path) -> dict[str, Any]:
    """The pass-through reference over the `count` raw posts of `phase`, in its own process."""
    from veille.kafka import ensure_topics

    k = phase.settings.kafka
    out = f"bench.passthrough.{k.raw_topic}"
    ensure_topics(k, [out])
    cmd = [
        sys.executable,
        "-m",
        "pipeline.bench.passthrough",
        *("--source", k.raw_topic, "--out", out, "--group", "bench-passthrough"),
        *("--count", str(count), "--timeout", str(120 + count / 1000)),
    ]
    proc = subprocess.run(
        cmd, env=_child_env(phase), capture_output=True, text=True, timeout=180 + count / 1000
    )
    (log_dir / "passthrough.log").write_text(proc.stderr)
    if proc.returncode != 0:
        raise BenchError(f"pass-through reference failed:\n{proc.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def run_naive_faust(
    phase: Phase, count: int, log_dir: Path, sentiment: str | None
) -> dict[str, Any]:
    """The naive Faust reference over the first `count` raw posts of `phase`, in its own
    worker process, stopped (SIGTERM, then SIGKILL) once it has written its result."""
    from veille.kafka import ensure_topics

    k = phase.settings.kafka
    out = f"bench.naive.{k.enriched_topic}"
    ensure_topics(k, [out])
    result_path = log_dir / "naive_faust.json"
    cmd = [
        sys.executable,
        "-m",
        "pipeline.bench.naive_faust",
        *("--source", k.raw_topic, "--out", out, "--group", "bench-naive-faust"),
        *("--count", str(count), "--result", str(result_path)),
        *(("--sentiment", sentiment) if sentiment else ()),
    ]
    log_path = log_dir / "naive_faust.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            cmd,
            env=_child_env(phase),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120 + count / 20
        while not result_path.exists():
            if proc.poll() is not None:
                tail = log_path.read_text(errors="replace")[-2000:]
                raise BenchError(f"naive Faust reference exited ({proc.returncode}):\n{tail}")
            if time.monotonic() > deadline:
                raise BenchError(f"naive Faust reference: no result after {count} posts in time")
            time.sleep(0.1)
        result: dict[str, Any] = json.loads(result_path.read_text())
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return result


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
        lat = client.query(
            f"""
            SELECT count() AS posts,
                   quantileExact(0.5)(latency_s) AS p50,
                   quantileExact(0.99)(latency_s) AS p99,
                   max(latency_s) AS max,
                   (toUnixTimestamp64Milli(max(received))
                    - toUnixTimestamp64Milli(min(received))) / 1000 AS source_s
            FROM (
                SELECT id, min(received_at) AS received, min(stored_at) AS stored,
                       (toUnixTimestamp64Milli(stored) - toUnixTimestamp64Milli(received))
                           / 1000 AS latency_s
                FROM `{latency_db}`.posts
                GROUP BY id
            )"""
        ).named_results()
        latency = next(iter(lat))
    finally:
        client.close()
    return {"throughput": throughput, "latency": latency}


def _load() -> float | None:
    """The 1-minute load average (other work on a shared machine shows here)."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def _up(o: E2EOptions, rate: float | None, count: int, seed: int | None = None) -> UpOptions:
    """The synthetic source as `veille up --rate R --count N` runs it (rate None: unpaced)."""
    return UpOptions(
        source="synthetic",
        rate=rate,
        count=count,
        seed=o.seed if seed is None else seed,
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
    temporary = options.data_dir is None
    data_dir = Path(tempfile.mkdtemp(prefix="veille-bench-")) if temporary else options.data_dir
    assert data_dir is not None
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
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

        progress(f"throughput: the pipeline on {options.posts} posts, source unpaced")
        t_run = run_pipeline(tput, _up(options, rate=None, count=options.posts), broker_pid)
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
