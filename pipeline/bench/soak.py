"""`veille bench soak`: the whole pipeline at a steady rate for a long time — does memory stay flat?

One run of `veille up`'s `Pipeline` exactly as a user leaves it running (the embedded broker
started by the supervisor, the Faust workers, the sink on chDB serving the live page on a free
port), the synthetic source paced at R posts/s for M minutes (started, as in `bench e2e`, once
the consumer groups are stable), then a clean drain and stop. Meanwhile, every `interval_s`:

- the resident set size (`VmRSS`) and CPU time of EVERY process of the tree under this one
  (found in `/proc` by parent id, whatever their session: the stages, the broker, whatever
  the broker runs beside it), each named by its stage, `broker`, or its command's name, and
  of this supervising process (`supervisor`);
- the ingested and written counts from the stages' status files.

Reported: per process and for the whole tree (the sum of RSS; shared pages count once per
process) the least-squares slope of RSS in MB/min over the samples after the warm-up (and of
its anonymous part, `RssAnon`: what the processes allocated, without the pages of mapped files
such as their executables, which the kernel reads in as code runs and may drop; and the tree's
over the second half of the steady run), RSS at
the end of the warm-up and at the end, CPU share after the warm-up; stored vs ingested after
the drain; restarts (a stage started again by the supervisor, or a name seen with a second
pid); latency quantiles (stored_at - received_at, `e2e.latency_figures`) over every post and
over those received after the warm-up; the broker's retention settings when there are any.
Samples go to `samples.csv`, the figures to `soak.json` and the RSS plot to `rss.svg` in the
output folder.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic_settings import BaseSettings

from pipeline.bench.e2e import latency_figures
from pipeline.bench.phases import (
    OWN_STACK_ENV,
    BenchError,
    WarmPipeline,
    check_data_dir,
    environ,
    own_stack,
    run_data_dir,
)
from pipeline.bench.procfs import command, cpu_seconds, descendants, status_kb
from pipeline.sources import SourceOptions
from pipeline.supervisor import UpOptions
from veille.settings import Settings

__all__ = ["BenchError", "SoakOptions", "run"]

FLAT_MB_PER_MIN = 1.0  # the tree's slope under which memory counts as flat


@dataclass
class SoakOptions:
    """What `veille bench soak` was asked to run."""

    minutes: float = 30.0
    rate: float = 300.0
    warmup_minutes: float | None = None  # None: 10, or a third of `minutes` when that is less
    interval_s: float = 5.0
    seed: int = 0
    sentiment: str | None = None
    watch: Path | None = None
    out: Path = Path("soak")
    data_dir: Path | None = None  # None: a temporary directory, removed afterwards

    def warmup(self) -> float:
        """Minutes of warm-up, left out of the memory figures: by default 10 (at 300 posts/s
        the S3 server's heap fills for about 8 minutes, docs/benchmarks.md), or a third of
        the run when that is less."""
        if self.warmup_minutes is None:
            return round(min(10.0, self.minutes / 3), 2)
        return self.warmup_minutes

    def validate(self) -> None:
        if self.minutes <= 0 or self.rate <= 0 or self.interval_s <= 0:
            raise ValueError("--minutes, --rate and --interval must be positive")
        if not 0 <= self.warmup() < self.minutes:
            raise ValueError("--warmup-minutes must be at least 0 and less than --minutes")
        check_data_dir(self.data_dir)


@dataclass(frozen=True)
class Sample:
    t_s: float  # since the source started
    name: str
    pid: int
    rss_mb: float
    cpu_s: float | None
    anon_mb: float | None = None  # RssAnon: what the process allocated, not mapped files


@dataclass
class TreeSampler:
    """Samples RSS and CPU of `root` and every process below it; `names` gives the known
    pids' names (stages, broker), the others are named by their command."""

    root: int
    names: Callable[[], dict[int, str]]
    samples: list[Sample] = field(default_factory=list)
    pids_seen: dict[str, set[int]] = field(default_factory=dict)

    def name_of(self, pid: int, known: dict[int, str]) -> str:
        if pid == self.root:
            return "supervisor"
        if pid in known:
            return known[pid]
        argv = command(pid)
        return Path(argv[0]).name if argv else f"pid-{pid}"

    def sample(self, t_s: float) -> None:
        """One reading of every process at `t_s` (rounded to 0.01 s); a reading at an instant
        not after the last one is skipped, so that instants identify rounds."""
        t_s = round(t_s, 2)
        if self.samples and t_s <= self.samples[-1].t_s:
            return
        known = self.names()
        taken: set[str] = set()
        for pid in [self.root, *descendants(self.root)]:
            kb = status_kb(pid, "VmRSS")
            if kb is None:  # gone, or a zombie: no memory
                continue
            name = self.name_of(pid, known)
            if name in taken:  # two processes of the same command: tell them apart
                name = f"{name}#{pid}"
            taken.add(name)
            self.pids_seen.setdefault(name, set()).add(pid)
            anon = status_kb(pid, "RssAnon")
            self.samples.append(
                Sample(
                    t_s,
                    name,
                    pid,
                    round(kb * 1024 / 1e6, 2),
                    cpu_seconds(pid),
                    None if anon is None else round(anon * 1024 / 1e6, 2),
                )
            )


def slope_mb_per_min(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, MB) points in MB per minute; None under 2 instants."""
    if len({t for t, _ in points}) < 2:
        return None
    fit = statistics.linear_regression([t / 60 for t, _ in points], [mb for _, mb in points])
    return round(fit.slope, 3)


def memory_figures(samples: list[Sample], warmup_s: float, until_s: float) -> dict[str, Any]:
    """Per process and for the tree: RSS at the end of the warm-up and at `until_s` (the end of
    the steady run: the drain that follows, with ingest gone, is left out), the slope between
    them, the peak; CPU share (% of one core) after the warm-up."""
    samples = [s for s in samples if s.t_s <= until_s]
    names = sorted({s.name for s in samples})
    per: dict[str, Any] = {}
    totals: dict[float, float] = {}
    anon_totals: dict[float, float] = {}
    for s in samples:
        totals[s.t_s] = totals.get(s.t_s, 0.0) + s.rss_mb
        anon_totals[s.t_s] = anon_totals.get(s.t_s, 0.0) + (s.anon_mb or 0.0)
    for name in names:
        mine = [s for s in samples if s.name == name]
        after = [s for s in mine if s.t_s >= warmup_s] or mine[-1:]
        cpu = [(s.t_s, s.cpu_s) for s in after if s.cpu_s is not None]
        span = cpu[-1][0] - cpu[0][0] if cpu else 0.0
        per[name] = {
            "rss_warm_mb": after[0].rss_mb,
            "rss_end_mb": mine[-1].rss_mb,
            "rss_peak_mb": max(s.rss_mb for s in mine),
            "slope_mb_per_min": slope_mb_per_min([(s.t_s, s.rss_mb) for s in after]),
            "anon_slope_mb_per_min": slope_mb_per_min(
                [(s.t_s, s.anon_mb) for s in after if s.anon_mb is not None]
            ),
            "cpu_pct": round(100 * (cpu[-1][1] - cpu[0][1]) / span, 1) if span > 0 else None,
        }
    tree_after = [(t, mb) for t, mb in sorted(totals.items()) if t >= warmup_s]
    half = (warmup_s + until_s) / 2
    return {
        "processes": per,
        "tree_rss_warm_mb": round(tree_after[0][1], 1) if tree_after else None,
        "tree_rss_end_mb": round(max(totals.items())[1], 1) if totals else None,
        "tree_rss_peak_mb": round(max(totals.values()), 1) if totals else None,
        "tree_slope_mb_per_min": slope_mb_per_min(tree_after),
        # the same over the second half of the steady run: a cache that fills for longer than
        # the warm-up shows in the first figure and not in this one
        "tree_slope_second_half_mb_per_min": slope_mb_per_min(
            [(t, mb) for t, mb in tree_after if t >= half]
        ),
        "tree_anon_slope_mb_per_min": slope_mb_per_min(
            [(t, mb) for t, mb in sorted(anon_totals.items()) if t >= warmup_s]
        ),
    }


def broker_settings(s: Settings, only: str = "") -> dict[str, Any]:
    """The local broker's settings (every setting whose variable names the broker or a
    retention) as `ENV_NAME: value`; with `only`, those whose name contains it."""
    found: dict[str, Any] = {}
    for part in vars(s).values():
        if not isinstance(part, BaseSettings):
            continue
        prefix = str(part.model_config.get("env_prefix", ""))
        for name in type(part).model_fields:
            env = f"{prefix}{name}".upper()
            if ("BROKER_" in env or "RETENTION" in env) and only.upper() in env:
                value = getattr(part, name)
                found[env] = value if value is None else str(value)
    return found


def write_outputs(out: Path, result: dict[str, Any], sampler: TreeSampler) -> dict[str, str]:
    """`samples.csv`, `soak.json` (`result`) and `rss.svg` in `out` (created); their paths."""
    from pipeline.bench.soakplot import rss_svg

    out.mkdir(parents=True, exist_ok=True)
    paths = {"samples": out / "samples.csv", "figures": out / "soak.json", "plot": out / "rss.svg"}
    with paths["samples"].open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["t_s", "process", "pid", "rss_mb", "cpu_s", "anon_mb"])
        for s in sampler.samples:
            w.writerow(
                [s.t_s, s.name, s.pid, s.rss_mb]
                + ["" if v is None else v for v in (s.cpu_s, s.anon_mb)]
            )
    title = (
        f"veille bench soak: RSS per process, {result['rate']:g} posts/s, "
        f"{result['minutes']:g} min ({result['date']})"
    )
    paths["plot"].write_text(rss_svg(sampler.samples, result["warmup_minutes"] * 60, title))
    paths["figures"].write_text(json.dumps(result, indent=1))
    return {k: str(p) for k, p in paths.items()}


def disk_mb(path: Path) -> float:
    """Space taken on disk under `path` (allocated blocks, as `du` counts), in MB; 0 if absent."""
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except OSError:  # removed while walking
                pass
    return round(total / 1e6, 2)


def disk_figures(
    timeline: list[dict[str, Any]], warmup_s: float, steady_end_s: float
) -> dict[str, Any]:
    """The broker's and ClickHouse's disk after the warm-up: first, last and largest reading of
    the steady run, and the broker's least-squares slope (MB/min) over it."""
    steady = [x for x in timeline if warmup_s <= x["t_s"] <= steady_end_s and "broker_disk_mb" in x]
    out: dict[str, Any] = {}
    for key in ("broker_disk_mb", "clickhouse_disk_mb"):
        values = [float(x[key]) for x in steady]
        out[key] = {"first": values[0], "last": values[-1], "max": max(values)} if values else None
    slope = None
    if len(steady) >= 3:
        fit = statistics.linear_regression(
            [x["t_s"] / 60 for x in steady], [float(x["broker_disk_mb"]) for x in steady]
        )
        slope = round(fit.slope, 3)
    out["broker_disk_slope_mb_per_min"] = slope
    return out


def run(
    base: Settings, options: SoakOptions, progress: Callable[[str], None] = lambda _: None
) -> dict[str, Any]:
    """Run the soak and return its figures (see the module docstring); write its files.

    Always the embedded broker and chDB (KAFKA_BOOTSTRAP_SERVERS, CLICKHOUSE_URL ignored).
    Raises `BenchError` when the pipeline fails, or when it does not drain (after writing the
    figures to `options.out`, so that what was left can be read), `ValueError` on bad options.
    Every process started is stopped in every case; a temporary data directory is removed.
    """
    options.validate()
    date = datetime.now(UTC).isoformat(timespec="seconds")
    data_dir, temporary = run_data_dir(options.data_dir, "veille-soak-")
    s = own_stack(base, data_dir)
    env = OWN_STACK_ENV
    up = UpOptions(
        source=SourceOptions(rate=options.rate, seed=options.seed),
        duration=options.minutes * 60,
        watch=options.watch,
        sentiment=options.sentiment,
        http_port=0,
    )
    warmup_s = options.warmup() * 60
    p = WarmPipeline(s, up, None)

    def known() -> dict[int, str]:
        names = {st.proc.pid: name for name, st in p.stages.items()}
        pid = p.broker.pid if p.broker is not None else None
        if pid is not None:
            names[pid] = "broker"
        return names

    sampler = TreeSampler(os.getpid(), known)
    timeline: list[dict[str, Any]] = []
    last = [-1e9, -1e9]  # last sample, last progress message (monotonic)

    def tick(_: object = None, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - last[0] < options.interval_s:
            return
        last[0] = now
        t = now - p.started_at
        sampler.sample(t)
        st = p.statuses()
        sink = st.get("sink", {})
        counts = {
            "t_s": round(t, 2),
            "ingested": int(st.get("ingest", {}).get("ingested", 0)),
            "written": int(sink.get("posts", 0)) + int(sink.get("dead_letters", 0)),
            "broker_disk_mb": disk_mb(data_dir / "broker"),
            "clickhouse_disk_mb": disk_mb(data_dir / "clickhouse"),
        }
        timeline.append(counts)
        if now - last[1] >= 60:
            last[1] = now
            tree = sum(x.rss_mb for x in sampler.samples if x.t_s == round(t, 2))
            progress(
                f"{t / 60:.1f} min: ingested={counts['ingested']} written={counts['written']} "
                f"tree RSS={tree:.0f} MB"
            )

    progress(
        f"the pipeline at {options.rate:g} posts/s for {options.minutes:g} min "
        f"(warm-up {options.warmup():g} min), RSS sampled every {options.interval_s:g} s"
    )
    started_wall = steady_end_s = 0.0
    try:
        with environ(env):
            try:
                p.start()
                started_wall = time.time() - (time.monotonic() - p.started_at)
                p.run(on_tick=tick, tick=0.5)
                tick(force=True)
                steady_end_s = time.monotonic() - p.started_at
                p.stop_ingest()
                drained = p.drain(on_tick=tick, stall_timeout=120.0)
                tick(force=True)
                p.stop()
            except BaseException as e:  # KeyboardInterrupt too: the stages are in own sessions
                p.stop()
                if isinstance(e, Exception):
                    raise BenchError(f"soak run failed: {e}") from e
                raise
        summary = p.summary()
        process_totals = p.process_totals()
        progress("counting in ClickHouse")
        from sinks.clickhouse import connect

        client = connect(s.clickhouse, s.veille.clickhouse_path())
        try:
            db = s.clickhouse.database
            latency_all = latency_figures(client, db)
            latency_warm = latency_figures(client, db, int((started_wall + warmup_s) * 1000))
        finally:
            client.close()
        run_log = _log_sizes(data_dir / "run")
    finally:
        if temporary:
            shutil.rmtree(data_dir, ignore_errors=True)

    restarts = {
        name: max(len(pids) - 1, p.spawns.get(name, 1) - 1)
        for name, pids in sorted(sampler.pids_seen.items())
    }
    memory = memory_figures(sampler.samples, warmup_s, steady_end_s)
    slope = memory["tree_slope_mb_per_min"]

    def quantiles(lat: dict[str, Any]) -> dict[str, Any]:
        return {
            "posts": int(lat["posts"]),
            **{k: round(float(lat[k]), 3) for k in ("p50", "p90", "p99", "max")},
        }

    result: dict[str, Any] = {
        "minutes": options.minutes,
        "rate": options.rate,
        "warmup_minutes": options.warmup(),
        "interval_s": options.interval_s,
        "ingested": int(summary["ingested"]),
        "stored": int(summary["stored"]),
        "stored_distinct": int(latency_all["posts"]),
        "dead_lettered": int(summary["dead_lettered"]),
        "stored_equals_ingested": int(summary["stored"]) == int(summary["ingested"]),
        "drained": drained and bool(summary.get("complete")),
        "observations": int(process_totals.get("observations", 0)),
        "observations_done": int(process_totals.get("observations_done", 0)),
        "offset_gaps": int(process_totals.get("offset_gaps", 0)),
        "source_rate": round(int(summary["ingested"]) / max(1e-9, summary["ingest_seconds"]), 1),
        "restarts": restarts,
        "restarts_total": sum(restarts.values()),
        "processes_sampled": sorted(sampler.pids_seen),
        **memory,
        **disk_figures(timeline, warmup_s, steady_end_s),
        "flat": slope is not None and slope < FLAT_MB_PER_MIN,
        "flat_threshold_mb_per_min": FLAT_MB_PER_MIN,
        "latency_s": quantiles(latency_all),
        "latency_after_warmup_s": quantiles(latency_warm),
        "retention": broker_settings(s, only="retention"),
        "broker_settings": broker_settings(s),
        "log_bytes": run_log,
        "cores": os.cpu_count(),
        "load_avg_1m_end": round(os.getloadavg()[0], 2),
        "date": date,
    }
    result["files"] = write_outputs(options.out, {**result, "timeline": timeline}, sampler)
    if not result["drained"]:  # the figures are kept (in `options.out`) to say what was left
        raise BenchError(
            f"soak run did not drain or complete (figures in {options.out}): "
            f"stored {result['stored']} of {result['ingested']} ingested, "
            f"observations read {result['observations_done']} of {result['observations']}"
        )
    return result


def _log_sizes(run_dir: Path) -> dict[str, int]:
    """Bytes of each process's logs (rotated files included) at the end of the run."""
    sizes: dict[str, int] = {}
    for path in sorted(run_dir.glob("*.log*")):
        stem = path.name.split(".log")[0]
        sizes[stem] = sizes.get(stem, 0) + path.stat().st_size
    return sizes
