"""The whole pipeline on one machine, as `veille up` runs it: broker, three stages, a summary.

`Pipeline` starts the embedded Kafka broker unless `KAFKA_BOOTSTRAP_SERVERS` names one, creates
the topics, then runs each stage as its own process (`veille sink`, `veille process`,
`veille ingest`: the same commands docker-compose runs), each in its own session so that a
Ctrl-C reaches only the supervisor, which then stops them in order: ingest first, then it waits
until the sink has written everything ingested (the drain), then the processor and the sink.
Stages report through status files (`veille.stats`); their output (and the broker's) goes to
`<data-dir>/run/<name>.log`, rotated by size (`VEILLE_LOG_MAX_MB`, `VEILLE_LOG_BACKUPS`;
`pipeline.logs`), so that a run of weeks keeps bounded logs.
With `VEILLE_METRICS_PORT` set, each stage serves Prometheus metrics on a port of its own, in
the order they start: the sink on that port, then the process workers, then ingest.

The embedded broker is durable (`VEILLE_BROKER_STORAGE=s3`, the default: under
`<data-dir>/broker`), so what a killed run acknowledged is stored by the next; with
`VEILLE_BROKER_STORAGE=memory` what was ingested but not drained when it stops is gone. Either
way a clean stop drains: it waits until Kafka holds nothing the processor or the sink has not
committed (`pipeline.backlog`).

A stage that dies is started again (the same command), after 1 s, or 2, 4, 8, 16 s when it
keeps dying within `STABLE_S` of its start; the sixth such quick death in a row ends the run
with the end of its log (a crash loop), while a stage that ran `STABLE_S` before it died starts
the count again. A stage that refused its options or settings (exit code 2) ends the run at
once. A
worker that cannot acknowledge a batch exits on purpose (code 75) so that its batch is read
again; ingest resumes after what Kafka acknowledged. The counters of a stage's earlier runs are
carried into its status, so that its figures span the whole run.

The embedded broker is watched too: when Tansu or its S3 server dies, both are started again on
the same port and the same data, with the same backoff and crash-loop rule. The stages keep
running through it: their producers (not idempotent on this broker: docs/local-broker.md)
deliver what they held once the broker is back, and their consumers find their groups again
(docs/reliability.md, "A broker restart"). An in-memory broker that dies ends the run: what it
held is gone.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.backlog import Backlog, readers
from pipeline.embedded import LocalBroker
from pipeline.logs import RotatingPipe, Rotation
from pipeline.sources import SourceOptions
from veille.kafka import ensure_topics
from veille.settings import Settings
from veille.stats import read_status

logger = logging.getLogger(__name__)

STAGES = ("sink", "process", "ingest")

MAX_RESTARTS = 5
STABLE_S = 20.0
EXIT_USAGE = 2
"""A stage's exit code when it refuses its command line or settings: not started again."""
RESTART_BACKOFF_S = (1.0, 2.0, 4.0, 8.0, 16.0)


class PipelineError(RuntimeError):
    """A stage failed to start or died; the message includes the end of its log."""


@dataclass
class UpOptions:
    """What `veille up` was asked to run: the source (run as `veille ingest` with its options),
    for how long, and how the other stages run."""

    source: SourceOptions = field(default_factory=SourceOptions)
    duration: float | None = None
    watch: Path | None = None
    sentiment: str | None = None
    workers: int | None = None
    http_port: int | None = 8765  # the sink serves the live page there; None: not served


@dataclass
class _Stage:
    name: str
    proc: subprocess.Popen[bytes]
    status_path: Path
    log_path: Path
    log: RotatingPipe
    argv: tuple[list[str], str | None] = ([], None)  # args and command, to start it again
    carried: dict[str, float] = field(default_factory=dict)  # counters of its earlier runs
    started: float = field(default_factory=time.monotonic)
    quick_deaths: int = 0  # deaths in a row, each within STABLE_S of its start
    died_at: float | None = None

    def status(self) -> dict[str, Any]:
        st = read_status(self.status_path)
        for key, value in self.carried.items():
            current = st.get(key, 0)
            if isinstance(current, int | float) and not isinstance(current, bool):
                st[key] = current + value
        return st

    def counters(self) -> dict[str, float]:
        """Its counters so far, earlier runs included (numbers only; not rates or ids)."""
        return {
            k: v
            for k, v in self.status().items()
            if isinstance(v, int) and not isinstance(v, bool) and k not in ("pid", "updated_at")
        }

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, lines: int = 25) -> str:
        if not self.alive():
            self.log.join(2.0)  # what it wrote last (a traceback) is in the file
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def signal(self, sig: int) -> None:
        if self.alive():
            self.proc.send_signal(sig)

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            logger.warning("stage %s did not stop within %.0fs; killing it", self.name, timeout)
            self.proc.kill()
            return self.proc.wait()


class Pipeline:
    """Supervises one local run. Call `start()`, then `run()`, and always `stop()`."""

    def __init__(self, settings: Settings, options: UpOptions) -> None:
        self.settings = settings
        self.options = options
        self.run_dir = settings.veille.data_dir / "run"
        self.broker: LocalBroker | None = None
        self.stages: dict[str, _Stage] = {}
        self.started_at = 0.0
        self.ingest_ended_at: float | None = None
        self.workers = options.workers or settings.process.workers or min(2, os.cpu_count() or 1)
        self.rotation = Rotation.from_mb(settings.veille.log_max_mb, settings.veille.log_backups)
        self.spawns: dict[str, int] = {}
        self._starting: set[str] = set()  # stages being started again
        self._env: dict[str, str] = {}
        self.broker_started = 0.0
        self._broker_died_at: float | None = None
        self._broker_quick_deaths = 0

    # -- start ----------------------------------------------------------------------------

    def start(self, ready_timeout: float = 120.0) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        for old in self.run_dir.glob("*.json"):
            old.unlink()
        k = self.settings.kafka
        env = dict(os.environ)
        if not k.bootstrap_servers:
            self.broker = self._local_broker().start()
            self.broker_started = time.monotonic()
            self.spawns["broker"] = 1
            env.update(self.broker.client_env(env))
            k = k.model_copy(update={"bootstrap_servers": self.broker.bootstrap_servers})
            self.settings.kafka = k
            env["KAFKA_BOOTSTRAP_SERVERS"] = self.broker.bootstrap_servers
        env["VEILLE_DATA_DIR"] = str(self.settings.veille.data_dir)
        # glibc gives each thread that allocates its own arena (up to 8 per core); the stages'
        # threads (librdkafka's, the sink's flusher) then keep freed memory in arenas no one
        # reuses, and the RSS creeps for hours. Two arenas bound it (docs/benchmarks.md, soak).
        env.setdefault("MALLOC_ARENA_MAX", "2")
        if self.options.watch:
            env["VEILLE_WATCH_FILE"] = str(self.options.watch)
        self._env = env
        ensure_topics(k, k.all_topics())
        sink_args = ["--data-dir", str(self.settings.veille.data_dir)]
        if self.options.http_port is not None:
            sink_args += ["--http-port", str(self.options.http_port)]
        self._spawn("sink", sink_args)
        data_dir = self.settings.veille.data_dir
        for i in range(1, self.workers + 1):
            # each Faust worker keeps its local state in its own directory
            process_args = ["--data-dir", str(data_dir if i == 1 else data_dir / f"worker-{i}")]
            if self.options.sentiment:
                process_args += ["--sentiment", self.options.sentiment]
            self._spawn(self._worker_name(i), process_args, command="process")
        self._wait_running(("sink", *self.process_names()), ready_timeout)
        self.started_at = time.monotonic()
        self._spawn("ingest", self.options.source.to_argv())

    def _local_broker(self, port: int | None = None) -> LocalBroker:
        b = self.settings.broker
        durable = b.storage == "s3"
        return LocalBroker(
            port=port,
            log_file=self.run_dir / "broker.log",
            rotation=self.rotation,
            data_dir=self.settings.veille.data_dir / "broker" if durable else None,
            retention_s=b.retention_hours * 3600,
        )

    @staticmethod
    def _worker_name(i: int) -> str:
        return "process" if i == 1 else f"process-{i}"

    def process_names(self) -> list[str]:
        return [self._worker_name(i) for i in range(1, self.workers + 1)]

    def process_totals(self) -> dict[str, Any]:
        """The process workers' counters, summed (states are those of the first worker)."""
        total: dict[str, Any] = {}
        for name in self.process_names():
            st = self.stages[name].status() if name in self.stages else {}
            for key, value in st.items():
                if isinstance(value, int | float) and key not in ("pid", "updated_at"):
                    total[key] = total.get(key, 0) + value
                else:
                    total.setdefault(key, value)
        return total

    def metrics_port(self, index: int) -> int:
        """The /metrics port of the `index`-th stage started (0: the sink, then the process
        workers, then ingest): consecutive ports from VEILLE_METRICS_PORT."""
        return self.settings.metrics.port + index

    def _spawn(self, name: str, args: list[str], command: str | None = None) -> None:
        status_path = self.run_dir / f"{name}.json"
        log_path = self.run_dir / f"{name}.log"
        cmd = [
            sys.executable,
            "-m",
            "pipeline",
            command or name,
            *args,
            "--status-file",
            str(status_path),
        ]
        env = self._env
        if self.settings.metrics.port:  # one port each: sink, process workers, ingest
            env = {**env, "VEILLE_METRICS_PORT": str(self.metrics_port(len(self.stages)))}
        log = RotatingPipe(log_path, self.rotation)
        with log as out:
            proc = subprocess.Popen(
                cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
        self.stages[name] = _Stage(name, proc, status_path, log_path, log, (args, command))
        self.spawns[name] = self.spawns.get(name, 0) + 1
        logger.info("started stage=%s pid=%d", name, proc.pid)

    def _wait_running(self, names: tuple[str, ...], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        pending = set(names)
        while pending:
            for name in list(pending):
                st = self.stages[name]
                if not st.alive():
                    raise self._died(st)
                if st.status().get("state") == "running":
                    pending.discard(name)
            if time.monotonic() > deadline:
                raise PipelineError(f"stages {sorted(pending)} not ready after {timeout:.0f}s")
            time.sleep(0.1)

    def _died(self, st: _Stage) -> PipelineError:
        code = st.proc.poll()
        return PipelineError(
            f"stage {st.name} exited with code {code}; its log ends with:\n{st.log_tail()}"
        )

    # -- run ------------------------------------------------------------------------------

    def live_url(self) -> str | None:
        """The URL of the live page the sink serves (once it runs), or None."""
        st = self.stages.get("sink")
        url = st.status().get("http_url") if st is not None else None
        return str(url) if url else None

    def restarts(self) -> int:
        """Stage processes started again under a name already started in this run."""
        return sum(n - 1 for n in self.spawns.values())

    def statuses(self) -> dict[str, dict[str, Any]]:
        return {name: st.status() for name, st in self.stages.items()}

    def finished(self, name: str) -> bool:
        """The stage exited 0 (only ingest does so before it is stopped: its source ended)."""
        st = self.stages.get(name)
        return st is not None and st.proc.poll() == 0

    def check_broker(self) -> None:
        """Start the embedded broker again, on the same port and data, when it died (module
        docstring); raise `PipelineError` when it is in memory or died too often."""
        b = self.broker
        if b is None or b.alive():
            return
        if not b.durable:
            raise PipelineError(
                "the local broker (in memory) stopped: what it held is gone; start veille up again"
            )
        now = time.monotonic()
        if self._broker_died_at is None:
            self._broker_died_at = now
            quick = now - self.broker_started < STABLE_S
            self._broker_quick_deaths = self._broker_quick_deaths + 1 if quick else 0
            if self._broker_quick_deaths > MAX_RESTARTS:
                raise PipelineError(
                    f"the local broker died {self._broker_quick_deaths} times in a row; "
                    f"see {self.run_dir / 'broker.log'} and {self.run_dir / 's3.log'}"
                )
            logger.warning("the local broker stopped; starting it again on port %s", b.port)
            b.stop()  # what is left of it: Tansu or its S3 server
        backoff = RESTART_BACKOFF_S[min(self._broker_quick_deaths, MAX_RESTARTS - 1)]
        if now - self._broker_died_at < backoff:
            return
        try:
            self.broker = self._local_broker(port=b.port).start()
        except Exception as e:  # counted as a quick death, and tried again
            logger.warning("the local broker did not start again: %s", e)
            self.broker_started, self._broker_died_at = time.monotonic(), None
            self.broker = b
            return
        self.broker_started, self._broker_died_at = time.monotonic(), None
        self.spawns["broker"] = self.spawns.get("broker", 1) + 1

    def check(self) -> None:
        """Start again the broker or each stage that died (other than an ingest whose source
        ended), after its backoff; raise `PipelineError` for one that died too often (module
        docstring)."""
        self.check_broker()
        for name, st in list(self.stages.items()):
            if st.alive() or (name == "ingest" and self.finished(name)) or name in self._starting:
                continue
            if st.proc.poll() == EXIT_USAGE:  # its command line or settings: again would not help
                raise self._died(st)
            now = time.monotonic()
            if st.died_at is None:
                st.died_at = now
                st.quick_deaths = st.quick_deaths + 1 if now - st.started < STABLE_S else 0
                if st.quick_deaths > MAX_RESTARTS:
                    error = self._died(st)
                    raise PipelineError(f"{error} (it died {st.quick_deaths} times in a row)")
                logger.warning(
                    "stage %s exited with code %s; starting it again; its log ends with:\n%s",
                    name,
                    st.proc.poll(),
                    st.log_tail(10),
                )
            if now - st.died_at < RESTART_BACKOFF_S[min(st.quick_deaths, MAX_RESTARTS - 1)]:
                continue
            carried = st.counters()
            args, command = st.argv
            st.log.join(2.0)
            self._starting.add(name)  # a spawn may call check() while it waits (WarmPipeline)
            try:
                self._spawn(name, args, command)
            finally:
                self._starting.discard(name)
            new = self.stages[name]
            new.carried, new.quick_deaths = carried, st.quick_deaths

    def run(self, on_tick: Callable[[Pipeline], None] | None = None, tick: float = 0.5) -> None:
        """Run until the duration ends, the source is exhausted, or KeyboardInterrupt."""
        deadline = (self.started_at + self.options.duration) if self.options.duration else None
        while True:
            self.check()
            if on_tick:
                on_tick(self)
            if self.finished("ingest"):
                return
            if deadline is not None and time.monotonic() >= deadline:
                return
            time.sleep(tick)

    def stop_ingest(self, timeout: float = 60.0) -> None:
        st = self.stages.get("ingest")
        if st is None:
            return
        st.signal(signal.SIGTERM)
        code = st.wait(timeout)
        self.ingest_ended_at = time.monotonic()
        if code != 0:
            raise self._died(st)

    def drain(
        self, on_tick: Callable[[Pipeline], None] | None = None, stall_timeout: float = 60.0
    ) -> bool:
        """Wait until everything ingested has gone through: Kafka holds no record that the
        processor or the sink has not committed (`pipeline.backlog`), twice in a row. Dead
        stages are started again meanwhile.

        Returns False if the backlog did not change for `stall_timeout` seconds first.
        """
        last: int | None = None
        last_change = time.monotonic()
        empty = 0
        with Backlog(self.settings.kafka, readers(self.settings)) as backlog:
            while True:
                self.check()
                if on_tick:
                    on_tick(self)
                behind = backlog.total()
                empty = empty + 1 if behind == 0 else 0
                if empty >= 2:
                    return True
                if behind != last:
                    last, last_change = behind, time.monotonic()
                elif time.monotonic() - last_change > stall_timeout:
                    logger.warning("drain stalled: %s records not committed", behind)
                    return False
                time.sleep(0.5)

    def stop(self, timeout: float = 60.0) -> None:
        """Stop every stage still running (in order) and the embedded broker. Idempotent."""
        for name in ("ingest", *self.process_names(), "sink"):
            st = self.stages.get(name)
            if st is not None and st.alive():
                st.signal(signal.SIGTERM)
                st.wait(timeout)
        if self.broker is not None:
            self.broker.stop()
            self.broker = None
        for st in self.stages.values():
            st.log.join(2.0)

    def summary(self) -> dict[str, Any]:
        """The run's figures; `stored` and `dead_lettered` count distinct new rows."""
        st = self.statuses()
        ingest, process, sink = st.get("ingest", {}), self.process_totals(), st.get("sink", {})
        elapsed = (self.ingest_ended_at or time.monotonic()) - self.started_at
        ingested = int(ingest.get("ingested", 0))
        return {
            "ingested": ingested,
            "enriched": int(process.get("enriched", 0)),
            "stored": int(sink.get("stored", 0)),
            "dead_lettered": int(sink.get("dead_lettered", 0)),
            "stored_total": int(sink.get("stored_total", 0)),
            "ingest_seconds": round(elapsed, 2),
            "restarts": self.restarts(),
            "data_dir": str(self.settings.veille.data_dir),
            "complete": sink.get("state") == "stopped" and "stored" in sink,
        }
