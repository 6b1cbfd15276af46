"""`veille ingest`, `veille process`, `veille sink`: each stage alone, as docker-compose runs them.

Each needs `KAFKA_BOOTSTRAP_SERVERS`; `veille sink` writes to `CLICKHOUSE_URL` or, unset, to
chDB under `--data-dir`. SIGTERM or Ctrl-C stops a stage cleanly: the ingest producer flushes,
the processor finishes its batch, the sink writes and commits what it holds.
"""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

from pipeline.cli.common import DATA_DIR_HELP, WatchOpt, errors, fail, settings, watch_config
from pipeline.cli.sources import (
    DEFAULTS,
    CountOpt,
    InputOpt,
    LiveOpt,
    RateOpt,
    ScenarioOpt,
    SeedOpt,
    SourceOpt,
    SpeedOpt,
    VolumeOpt,
    source_options,
)
from pipeline.gctune import tune_for_stream
from pipeline.sources import build_source
from veille import metrics
from veille.settings import Settings
from veille.stats import StatusFile

logger = logging.getLogger(__name__)

STATUS_HELP = "write this stage's status (JSON) to this file while it runs"


def _on_signals(stop: Any) -> None:
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop())


def _ensure_topics(s: Settings) -> None:
    from veille.kafka import DeliveryError, ensure_topics

    k = s.kafka
    with errors(DeliveryError):
        ensure_topics(k, k.all_topics(), timeout=k.startup_wait_s)


def ingest(
    source: SourceOpt = DEFAULTS.source,
    input: InputOpt = None,
    scenario: ScenarioOpt = DEFAULTS.scenario,
    volume: VolumeOpt = DEFAULTS.volume,
    rate: RateOpt = DEFAULTS.rate,
    seed: SeedOpt = DEFAULTS.seed,
    count: CountOpt = DEFAULTS.count,
    speed: SpeedOpt = DEFAULTS.speed,
    live: LiveOpt = DEFAULTS.live,
    duration: Annotated[float | None, typer.Option(help="stop after S seconds")] = None,
    watch: WatchOpt = None,
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
    options = source_options(source, input, scenario, volume, rate, seed, count, speed, live)
    try:
        src = build_source(options, s)
    except ValueError as e:  # SourceOptionsError, WatchConfigError: the message names the fix
        fail(str(e))
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
            tune_for_stream()
            counters = runner.run()
        finally:
            try:
                runner.close()
            finally:
                status.set_state("stopped")
    logger.info("ingest done %s", " ".join(f"{k}={v}" for k, v in counters.items()))


def process(
    watch: WatchOpt = None,
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
    _ensure_topics(s)  # one clear line when Kafka is out of reach, not Faust's traceback
    status = StatusFile(status_file, "process")
    s.veille.data_dir.mkdir(parents=True, exist_ok=True)
    enricher = Enricher(watch_config(s), sentiment or s.sentiment.backend)
    with errors(FileNotFoundError, ValueError, ModelFileError):
        enricher.load()
    topology = build(s, enricher, status)
    # the lag reader takes the App's monitor now, in this thread; the metrics server reads it
    metrics.watch_process(status, topology.lag_reader(), topology.counters)
    metrics.serve(s.metrics)
    tune_for_stream()
    run(topology)


def sink(
    data_dir: Annotated[Path | None, typer.Option(help=DATA_DIR_HELP)] = None,
    status_file: Annotated[Path | None, typer.Option(help=STATUS_HELP, hidden=True)] = None,
    http_port: Annotated[
        int | None,
        typer.Option(
            help="also serve the live page and a read-only ClickHouse endpoint on this port "
            "(0: a free port; a taken port falls back to a free one)"
        ),
    ] = None,
    http_host: Annotated[str, typer.Option(help="address the HTTP port listens on")] = "127.0.0.1",
) -> None:
    """Write enriched posts and dead letters to ClickHouse in batches (migrating it first).

    Example: KAFKA_BOOTSTRAP_SERVERS=localhost:9092 CLICKHOUSE_URL=http://localhost:8123 veille sink
    """
    from sinks.base import SinkError
    from sinks.clickhouse import ClickHouseSink
    from sinks.runner import SinkRunner
    from veille.kafka import DeliveryError

    s = settings(data_dir=data_dir)
    with errors(ValueError):
        s.kafka.servers  # noqa: B018
    status = StatusFile(status_file, "sink")
    client: Any = None
    if s.sink.fault_control is not None:  # fault injection (`veille bench chaos`, fault tests)
        from sinks.clickhouse import connect
        from sinks.clickhouse.faults import FaultyClient

        with errors(SinkError):
            client = FaultyClient(
                connect(s.clickhouse, s.veille.clickhouse_path()), s.sink.fault_control
            )
    ch = ClickHouseSink(
        s.clickhouse, s.veille.clickhouse_path(), chunk_rows=s.sink.batch_rows, client=client
    )
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
    tune_for_stream()
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
    server = None
    with errors(SinkError, DeliveryError):
        try:
            runner.start()
            if http_port is not None:  # this process owns the store: it serves reads for others
                from pipeline.web.server import start_server

                run_dir = status_file.parent if status_file is not None else None
                server = start_server(s, host=http_host, port=http_port, run_dir=run_dir)
                status.update(force=True, http_url=server.url)
            if schedule is not None:
                schedule.start()
            before = (ch.count_posts(), ch.count_dead_letters())
            status.update(force=True, stored_before=before[0])
            runner.run()
        except BaseException:
            status.set_state("failed")
            raise
        finally:
            if server is not None:
                server.stop()
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
