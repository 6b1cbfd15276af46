"""X commands: `veille rules [sync]`, `veille backfill`, `veille usage`, `veille compliance`."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from pipeline.cli.common import (
    DATA_DIR_HELP,
    WATCH_HELP,
    errors,
    fail,
    out_console,
    settings,
    watch_config,
)

rules_app = typer.Typer()


@rules_app.callback(invoke_without_command=True)
def rules(
    ctx: typer.Context,
    watch: Annotated[Path | None, typer.Option(help=WATCH_HELP)] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="one JSON array of {value, tag}")
    ] = False,
    max_length: Annotated[int, typer.Option(help="longest rule X accepts on your plan")] = 1024,
) -> None:
    """Print the X filtered-stream rules compiled from the watch configuration.

    Example: veille rules --watch watch.yaml --json
    """
    if ctx.invoked_subcommand is not None:
        return
    from veille.watch import WatchConfigError, compile_rules

    cfg = watch_config(settings(watch=watch))
    with errors(WatchConfigError):
        compiled = compile_rules(cfg, max_length=max_length)
    if json_out:
        print(json.dumps([{"value": r.value, "tag": r.tag} for r in compiled], ensure_ascii=False))
        return
    table = Table(
        "tag",
        "rule",
        "chars",
        title=f"{len(compiled)} X filtered-stream rules",
        title_justify="left",
    )
    for r in compiled:
        table.add_row(r.tag, r.value, str(len(r.value)))
    out_console().print(table)


@rules_app.command("sync")
def rules_sync(
    watch: Annotated[Path | None, typer.Option(help=WATCH_HELP)] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="show the changes, make none")] = False,
) -> None:
    """Make the stream's rules on X equal to those compiled from watch.yaml.

    Example: veille rules sync --dry-run
    """
    from ingest.x import rules as sync
    from ingest.x.stream import FilteredStream
    from veille import xapi
    from veille.watch import WatchConfigError, compile_rules

    s = settings(watch=watch)
    with errors(WatchConfigError, xapi.XApiError):
        compiled = compile_rules(watch_config(s))
        plan = sync.sync(xapi.streaming_client(s.x, FilteredStream), compiled, dry_run=dry_run)
    verb = "would " if dry_run else ""
    for r in plan.add:
        print(f"{verb}add     {r.tag}: {r.value}")
    for d in plan.delete:
        print(f"{verb}delete  {d.tag}: {d.value} (id {d.id})")
    print(
        f"{len(plan.keep)} rules unchanged, {len(plan.add)} {verb}added, "
        f"{len(plan.delete)} {verb}deleted"
    )


def parse_duration(text: str) -> timedelta:
    """`90s`, `15m`, `2h`, `7d` as a timedelta."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*", text)
    if not m:
        raise typer.BadParameter(f"{text!r} is not a duration like 30m, 2h or 7d")
    unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[m.group(2)]
    return timedelta(**{unit: float(m.group(1))})


def backfill(
    since: Annotated[str, typer.Option(help="how far back: 30m, 2h, 7d (X searches 7 days)")],
    watch: Annotated[Path | None, typer.Option(help=WATCH_HELP)] = None,
) -> None:
    """Read the watch rules' posts of a recent period with X recent search, into the raw topic.

    Posts already ingested are harmless (same key downstream).
    Example: KAFKA_BOOTSTRAP_SERVERS=localhost:9092 veille backfill --since 2h
    """
    from ingest.runner import IngestRunner
    from ingest.x.backfill import BackfillSource, RecentSearch
    from veille import xapi
    from veille.kafka import DeliveryError
    from veille.watch import compile_rules

    s = settings(watch=watch)
    with errors(ValueError):
        s.kafka.servers  # noqa: B018
    start = datetime.now(UTC) - parse_duration(since)
    source = BackfillSource(
        lambda: RecentSearch(xapi.client(s.x), max_results=s.x.search_max_results),
        compile_rules(watch_config(s)),
        start,
    )
    runner = IngestRunner(s, source)
    with errors(xapi.XApiError, DeliveryError):
        try:
            runner.start()
            counters = runner.run()
        finally:
            runner.close()
    print(json.dumps(counters | source.metrics()))


def usage(
    data_dir: Annotated[Path | None, typer.Option(help=DATA_DIR_HELP)] = None,
    json_out: Annotated[bool, typer.Option("--json", help="a JSON array of row objects")] = False,
) -> None:
    """Posts read from X per day this month, their cost, and the budget (from ClickHouse).

    Example: veille usage --json
    """
    from pipeline.cli.data import print_query

    print_query("x_usage", {}, data_dir, "json" if json_out else "table")


def compliance(
    data_dir: Annotated[Path | None, typer.Option(help=DATA_DIR_HELP)] = None,
    poll_s: Annotated[float, typer.Option(help="seconds between job status checks")] = 30.0,
) -> None:
    """Remove stored posts that X reports deleted, protected or suspended (X's 24 h rule).

    Example: CLICKHOUSE_URL=http://localhost:8123 veille compliance
    """
    from sinks.base import SinkError
    from sinks.clickhouse import connect
    from sinks.compliance import check
    from veille import xapi

    s = settings(data_dir=data_dir)
    if s.x.bearer_token is None:
        fail("compliance needs X_BEARER_TOKEN")
    with errors(SinkError, xapi.XApiError):
        client = connect(s.clickhouse, s.veille.clickhouse_path())
        try:
            result = check(client, s.x, s.clickhouse.cluster, poll_s=poll_s)
        finally:
            client.close()
    print(
        json.dumps(
            {"checked": result.checked, "removed": result.removed, "reasons": result.reasons}
        )
    )
