"""The pipeline runs of `veille bench e2e`: each phase on its own topics, groups and database.

`make_phase` derives a phase's settings and the environment its stage processes read them from;
`run_pipeline` runs `veille up`'s `Pipeline` on them (through `WarmPipeline`, which starts the
source only once the processor's and the sink's consumer groups are stable, and samples each
stage's peak memory and CPU time) until the source ends and everything is drained.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.bench.procfs import CpuUse, PeakRss
from pipeline.bench.profile import StageProfiler
from pipeline.supervisor import Pipeline, UpOptions
from veille.settings import KafkaSettings, Settings

TOPIC_FIELDS = tuple(name for name in KafkaSettings.model_fields if name.endswith("_topic"))
"""Every topic setting: a benchmark phase gets topics of its own."""


class BenchError(RuntimeError):
    """A phase of the benchmark failed; the message says which and why (with log tails)."""


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


OWN_STACK_ENV = {
    "KAFKA_BOOTSTRAP_SERVERS": "",
    "CLICKHOUSE_URL": "",
    "VEILLE_COMPLIANCE_INTERVAL_H": "0",
}
"""What the stages of `own_stack` see: no broker or ClickHouse named, no compliance runs."""


def own_stack(base: Settings, data_dir: Path) -> Settings:
    """`base` for a run on its own local broker and chDB under `data_dir`, as `veille up` starts
    them (the broker's settings kept), without compliance runs; stages get `OWN_STACK_ENV`."""
    return Settings(
        base.kafka.model_copy(update={"bootstrap_servers": None}),
        base.clickhouse.model_copy(update={"url": None}),
        base.x,
        base.veille.model_copy(update={"data_dir": data_dir}),
        sentiment=base.sentiment,
        process=base.process,
        sink=base.sink,
        alert=base.alert,
        compliance=base.compliance.model_copy(update={"interval_h": 0.0}),
        metrics=base.metrics,
        broker=base.broker,
    )


def check_data_dir(data_dir: Path | None) -> None:
    """Raise `ValueError` when a benchmark's `--data-dir` is given and not empty."""
    if data_dir is not None and data_dir.exists() and any(data_dir.iterdir()):
        raise ValueError(f"--data-dir {data_dir} is not empty")


def run_data_dir(data_dir: Path | None, prefix: str) -> tuple[Path, bool]:
    """A benchmark's data directory, absolute and created: `data_dir`, or (None) a new
    temporary one; True when it is temporary (the caller removes it)."""
    path = Path(tempfile.mkdtemp(prefix=prefix)) if data_dir is None else data_dir
    path = path.resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path, data_dir is None


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

    def __init__(
        self,
        settings: Settings,
        options: UpOptions,
        broker_pid: int | None,
        profiler: StageProfiler | None = None,
    ) -> None:
        super().__init__(settings, options)
        self.broker_pid = broker_pid
        self.groups_ready_s = 0.0
        self.rss = PeakRss()
        self.cpu = CpuUse()
        self.profiler = profiler

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
        if name == "ingest" and self.profiler is not None:
            self.profiler.start({n: pid for n, pid in self.pids().items() if n != "broker"})


@dataclass
class PipelineRun:
    summary: dict[str, Any]
    rss: PeakRss
    cpu_s: dict[str, float]
    groups_ready_s: float
    seconds: float
    workers: int


def run_pipeline(
    phase: Phase, options: UpOptions, broker_pid: int | None, profile: Path | None = None
) -> PipelineRun:
    """Start, run until the source ends, drain, stop; stages' logs end in `run-<name>/`.
    With `profile`, py-spy samples every stage from the source's start to the end of the drain
    (`pipeline.bench.profile`; reports in that folder)."""
    started = time.monotonic()
    profiler = StageProfiler(profile) if profile is not None else None
    with environ(phase.env):
        p = WarmPipeline(phase.settings, options, broker_pid, profiler)
        try:
            p.start()
            p.run(on_tick=p.sample, tick=0.2)
            p.stop_ingest()
            drained = p.drain(on_tick=p.sample)
            p.sample()
            if profiler is not None:
                profiler.stop()
            p.stop()
        except BaseException as e:  # KeyboardInterrupt too: the stages run in their own sessions
            if profiler is not None:
                profiler.stop()
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
