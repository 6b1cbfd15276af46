"""`veille up`: the whole pipeline on this machine, with live progress and a final summary."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from pipeline.cli.common import DATA_DIR_HELP, WatchOpt, fail, out_console, settings
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
from pipeline.cli.status import StatusDisplay
from pipeline.sources import SourceOptionsError
from pipeline.supervisor import Pipeline, PipelineError, UpOptions

console = Console(stderr=True)


def up(
    source: SourceOpt = DEFAULTS.source,
    input: InputOpt = None,
    scenario: ScenarioOpt = DEFAULTS.scenario,
    volume: VolumeOpt = DEFAULTS.volume,
    rate: RateOpt = DEFAULTS.rate,
    seed: SeedOpt = DEFAULTS.seed,
    count: CountOpt = DEFAULTS.count,
    speed: SpeedOpt = DEFAULTS.speed,
    live: LiveOpt = DEFAULTS.live,
    duration: Annotated[
        float | None,
        typer.Option(help="stop after S seconds (default: Ctrl-C, or the end of a replayed file)"),
    ] = None,
    data_dir: Annotated[Path | None, typer.Option(help=DATA_DIR_HELP)] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="print the summary as one JSON object on the last line")
    ] = False,
    watch: WatchOpt = None,
    sentiment: Annotated[
        str | None, typer.Option(help="sentiment backend: fast|accurate|transformer")
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            help="Faust workers to run [default: VEILLE_PROCESS_WORKERS, else one per "
            "core, at most 2]"
        ),
    ] = None,
    http_port: Annotated[
        int,
        typer.Option(
            help="port of the live page and of the read-only ClickHouse endpoint, on "
            "127.0.0.1 (0: a free port; -1: none)"
        ),
    ] = 8765,
) -> None:
    """Run the whole pipeline: source -> Kafka -> Faust enrichment -> ClickHouse.

    Starts a local Kafka broker and chDB unless KAFKA_BOOTSTRAP_SERVERS / CLICKHOUSE_URL name
    real ones, stops cleanly after --duration (or Ctrl-C, or SIGTERM: without --duration it runs
    until then) with everything flushed, and prints what was ingested, enriched, stored and
    dead-lettered. While it runs: a live table on a terminal, else a status line every
    VEILLE_STATUS_INTERVAL_S seconds; each process's log in <data-dir>/run/, rotated.

    Example: veille up --source synthetic --rate 200 --duration 30 --json
    """
    options = source_options(source, input, scenario, volume, rate, seed, count, speed, live)
    try:
        options.check()
    except SourceOptionsError as e:
        fail(str(e))
    s = settings(data_dir=data_dir, watch=watch)
    up_options = UpOptions(
        source=options,
        duration=duration,
        watch=watch,
        sentiment=sentiment,
        workers=workers,
        http_port=http_port if http_port >= 0 else None,
    )
    pipeline = Pipeline(s, up_options)
    display = StatusDisplay(console, s.veille.status_interval_s, transient=json_out)
    previous = signal.signal(signal.SIGTERM, lambda *_: _interrupt())
    summary: dict[str, Any] = {}
    try:
        with display:
            try:
                pipeline.start()
                if pipeline.live_url():
                    console.print(f"live page: {pipeline.live_url()}", highlight=False)
                try:
                    pipeline.run(on_tick=display.tick("running (Ctrl-C stops cleanly)"))
                except KeyboardInterrupt:
                    pass
                pipeline.stop_ingest()
                try:
                    drained = pipeline.drain(on_tick=display.tick("draining"))
                except KeyboardInterrupt:
                    drained = False
                if not drained:
                    console.print(
                        "[yellow]warning:[/] stopped before the sink wrote every ingested record"
                    )
                display.update(pipeline, "stopping")
                pipeline.stop()
                display.finish(pipeline)
            except PipelineError as e:
                pipeline.stop()
                fail(str(e), code=1)
            except KeyboardInterrupt:  # while starting or stopping: no clean summary to give
                pipeline.stop()
                fail("interrupted; every process started was stopped", code=130)
            finally:
                pipeline.stop()  # idempotent: every process started is stopped, whatever happened
        summary = pipeline.summary()
    finally:
        signal.signal(signal.SIGTERM, previous)
    if not summary.get("complete"):
        fail(f"the run did not complete: {summary}", code=1)
    _print_summary(summary, json_out)


def _interrupt() -> None:
    raise KeyboardInterrupt


def _print_summary(summary: dict[str, Any], json_out: bool) -> None:
    out = out_console()
    table = Table(title="summary", title_justify="left", show_header=False)
    for key in (
        "ingested",
        "enriched",
        "stored",
        "dead_lettered",
        "stored_total",
        "ingest_seconds",
    ):
        table.add_row(key, str(summary[key]))
    target = console if json_out else out
    target.print()
    target.print(table)
    if not json_out:
        out.print(f"query it: veille query mentions_over_time --data-dir {summary['data_dir']}")
    else:
        print(json.dumps(summary))
