"""`veille ingest`, `veille process`, `veille sink`: each stage alone, as docker-compose runs them.

Each needs `KAFKA_BOOTSTRAP_SERVERS`; `veille sink` writes to `CLICKHOUSE_URL` or, unset, to
chDB under `--data-dir`. SIGTERM or Ctrl-C stops a stage cleanly: the ingest producer flushes,
the processor finishes its batch, the sink writes and commits what it holds.
"""

from __future__ import annotations

import logging
import signal
import threading
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from pipeline.cli.common import DATA_DIR_HELP, WATCH_HELP, errors, fail, settings, watch_config
from veille import metrics
from veille.settings import Settings
from veille.stats import StatusFile

logger = logging.getLogger(__name__)

SCENARIO_HELP = (
    "synthetic scenario: calm, crisis (negative burst on the first brand after 14 simulated "
    "hours), impersonation, care, trending"
)
VOLUME_HELP = "synthetic: posts per simulated minute (daily average); event time, not wall time"
LIVE_HELP = (
    "synthetic: posts dated now, at --rate per second (event time follows the wall clock, as "
    "a live stream; default: simulated time from midnight UTC yesterday, faster than the clock)"
)
STATUS_HELP = "write this stage's status (JSON) to this file while it runs"


class SourceName(StrEnum):
    synthetic = "synthetic"
    replay = "replay"
    x = "x"


def _on_signals(stop: Any) -> None:
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop())


def _ensure_topics(s: Settings) -> None:
    from veille.kafka import DeliveryError, ensure_topics

    k = s.kafka
    with errors(DeliveryError):
        ensure_topics(k, k.all_topics())


def build_source(
    name: SourceName,
    s: Settings,
    *,
    inputs: list[Path] | None,
    rate: float | None,
    seed: int,
    count: int | None,
    speed: float | None,
    scenario: str,
    volume: float = 30.0,
    live: bool = False,
) -> Any:
    """The source named on the command line, validated (no I/O yet)."""
    if name is SourceName.synthetic:
        from ingest.synthetic import SyntheticSource

        try:
            if live and not rate:
                fail("--live needs a --rate: event time then follows the wall clock")
            return SyntheticSource(
                watch_config(s),
                rate=rate,
                seed=seed,
                count=count,
                scenario=scenario,
                volume=rate * 60 if live and rate else volume,
                start_time=datetime.now(UTC) if live else None,
                # a live clock follows the wall; otherwise the timeline continues after a restart
                state_file=None if live else s.veille.data_dir / "ingest" / "synthetic.json",
            )
        except ValueError as e:
            fail(str(e))
    if name is SourceName.replay:
        from ingest.replay import ReplaySource

        if not inputs:
            fail("--source replay needs --input FILE (NDJSON of X API v2 payloads)")
        return ReplaySource(
            inputs, speed=speed, state_file=s.veille.data_dir / "ingest" / "replay.json"
        )
    from ingest.x.source import XSource

    if s.x.bearer_token is None or not s.x.bearer_token.get_secret_value():
        fail("--source x needs X_BEARER_TOKEN (the bearer token of your X developer app)")
    s.veille.data_dir.mkdir(parents=True, exist_ok=True)
    return XSource(s.x, watch_config(s), state_dir=s.veille.data_dir)


def ingest(
    source: Annotated[
        SourceName, typer.Option(help="where posts come from")
    ] = SourceName.synthetic,
    input: Annotated[
        list[Path] | None,
        typer.Option(
            "--input", "-i", help="NDJSON file(s) of X API v2 payloads, for --source replay"
        ),
    ] = None,
    rate: Annotated[
        float | None, typer.Option(help="synthetic posts per second (0: as fast as possible)")
    ] = 100.0,
    seed: Annotated[int, typer.Option(help="synthetic: random seed (reproducible output)")] = 0,
    count: Annotated[int | None, typer.Option(help="synthetic: stop after N posts")] = None,
    speed: Annotated[
        float | None,
        typer.Option(
            help="replay: speed factor of the original "
            "timing (2 = twice as fast); unset: as fast as possible"
        ),
    ] = None,
    scenario: Annotated[str, typer.Option(help=SCENARIO_HELP)] = "calm",
    volume: Annotated[float, typer.Option(help=VOLUME_HELP)] = 30.0,
    live: Annotated[bool, typer.Option("--live", help=LIVE_HELP)] = False,
    duration: Annotated[float | None, typer.Option(help="stop after S seconds")] = None,
    watch: Annotated[Path | None, typer.Option(help=WATCH_HELP)] = None,
    status_file: Annotated[Path | None, typer.Option(help=STATUS_HELP, hidden=True)] = None,
) -> None:
    """Read a source and produce its posts to the raw topic (bad input to the dead-letter topic).

    Example: KAFKA_BOOTSTRAP_SERVERS=localhost:9092 veille ingest --source replay -i posts.ndjson
    """
    from ingest.runner import IngestRunner
    from veille.kafka import DeliveryError
    from veille.xapi import XApiError

    s = settings(watch=watch)
    with errors(ValueError):
        s.kafka.servers  # noqa: B018 - fail early and clearly when no broker is configured
    src = build_source(
        source,
        s,
        inputs=input,
        rate=rate or None,
        seed=seed,
        count=count,
        speed=speed,
        scenario=scenario,
        volume=volume,
        live=live,
    )
    status = StatusFile(status_file, "ingest")
    runner = IngestRunner(s, src, status)
    metrics.watch_ingest(runner)
    metrics.serve(s.metrics)
    _on_signals(runner.stop)
    _ensure_topics(s)
    if duration:
        timer = threading.Timer(duration, runner.stop)
        timer.daemon = True
        timer.start()
    with errors(FileNotFoundError, DeliveryError, OSError, XApiError):
        try:
            runner.start()
            counters = runner.run()
        finally:
            try:
                runner.close()
            finally:
                status.set_state("stopped")
    logger.info("ingest done %s", " ".join(f"{k}={v}" for k, v in counters.items()))


def process(
    watch: Annotated[Path | None, typer.Option(help=WATCH_HELP)] = None,
    sentiment: Annotated[
        str | None, typer.Option(help="sentiment backend: fast|accurate|transformer")
    ] = None,
    data_dir: Annotated[Path | None, typer.Option(help="where Faust keeps local state")] = None,
    status_file: Annotated[Path | None, typer.Option(help=STATUS_HELP, hidden=True)] = None,
) -> None:
    """Run the Faust worker that enriches raw posts into the enriched topic.

    Example: KAFKA_BOOTSTRAP_SERVERS=localhost:9092 veille process
    """
    from processors.enrich.enricher import Enricher
    from processors.enrich.linear import ModelFileError
    from processors.worker import build, run

    s = settings(data_dir=data_dir, watch=watch)
    with errors(ValueError):
        s.kafka.servers  # noqa: B018
    status = StatusFile(status_file, "process")
    s.veille.data_dir.mkdir(parents=True, exist_ok=True)
    enricher = Enricher(watch_config(s), sentiment or s.sentiment.backend)
    with errors(FileNotFoundError, ValueError, ModelFileError):
        enricher.load()
    topology = build(s, enricher, status)
    # the lag reader takes the App's monitor now, in this thread; the metrics server reads it
    metrics.watch_process(status, topology.lag_reader(), topology.counters)
    metrics.serve(s.metrics)
    run(topology)


def sink(
    data_dir: Annotated[Path | None, typer.Option(help=DATA_DIR_HELP)] = None,
    status_file: Annotated[Path | None, typer.Option(help=STATUS_HELP, hidden=True)] = None,
) -> None:
    """Write enriched posts and dead letters to ClickHouse in batches (migrating it first).

    Example: KAFKA_BOOTSTRAP_SERVERS=localhost:9092 CLICKHOUSE_URL=http://localhost:8123 veille sink
    """
    from sinks.base import SinkError
    from sinks.clickhouse import ClickHouseSink
    from sinks.runner import SinkRunner

    s = settings(data_dir=data_dir)
    with errors(ValueError):
        s.kafka.servers  # noqa: B018
    status = StatusFile(status_file, "sink")
    ch = ClickHouseSink(s.clickhouse, s.veille.clickhouse_path(), chunk_rows=s.sink.batch_rows)
    notifier = None
    if s.alert.webhook_url is not None:
        from sinks.notify import WebhookNotifier

        notifier = WebhookNotifier(
            s.alert.webhook_url.get_secret_value(),
            cooldown_s=s.alert.webhook_cooldown_s,
        )
        notifier.start()
    runner = SinkRunner(s, ch, status, notifier)
    metrics.watch_sink(runner)
    metrics.serve(s.metrics)
    _on_signals(runner.stop)
    _ensure_topics(s)
    schedule = None
    if s.x.bearer_token is not None and s.compliance.interval_h > 0:
        from sinks.clickhouse import connect
        from sinks.compliance import ComplianceSchedule

        schedule = ComplianceSchedule(
            lambda: connect(s.clickhouse, s.veille.clickhouse_path()),
            s.x,
            s.compliance.interval_h * 3600,
            cluster=s.clickhouse.cluster,
        )
    with errors(SinkError):
        try:
            runner.start()
            if schedule is not None:
                schedule.start()
            before = (ch.count_posts(), ch.count_dead_letters())
            status.update(force=True, stored_before=before[0])
            runner.run()
        except BaseException:
            status.set_state("failed")
            raise
        finally:
            if schedule is not None:
                schedule.stop()
            runner.close()
            if notifier is not None:
                notifier.close()
        after = (ch.count_posts(), ch.count_dead_letters())
        status.set_state(
            "stopped",
            stored=after[0] - before[0],
            dead_lettered=after[1] - before[1],
            stored_total=after[0],
        )
        ch.close()
