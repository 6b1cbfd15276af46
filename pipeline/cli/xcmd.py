"""X commands: `veille rules [sync]`, `veille backfill`, `veille usage`, `veille compliance`."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

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

if TYPE_CHECKING:
    from ingest.x.forecast import Forecast
    from veille.settings import Settings
    from veille.watch import WatchConfig

rules_app = typer.Typer()


@rules_app.callback(invoke_without_command=True)
def rules(
    ctx: typer.Context,
    watch: Annotated[Path | None, typer.Option(help=WATCH_HELP)] = None,
    json_out: Annotated[
        bool,
        typer.Option(
            "--json",
            help="one JSON array of {value, tag, kind, sample}; with --forecast, one object "
            "{forecast, total, budget_usd}",
        ),
    ] = False,
    max_length: Annotated[int, typer.Option(help="longest rule X accepts on your plan")] = 1024,
    with_forecast: Annotated[
        bool,
        typer.Option(
            "--forecast",
            help="ask X how many posts each watch item's rules matched over the last 7 days "
            "(post counts: nothing read, nothing billed) and print the cost per month",
        ),
    ] = False,
) -> None:
    """Print the X filtered-stream rules compiled from the watch configuration, and what each
    reads (X bills every post a rule delivers): `entry` rules read every post that names a watch
    entry; `sector` rules read the broad traffic of their keywords, the sampled percentage of it.
    Topics compile to no rule.

    Example: veille rules --watch watch.yaml --json; veille rules --forecast
    """
    if ctx.invoked_subcommand is not None:
        return
    from veille.watch import WatchConfigError, compile_rules, rule_scope

    s = settings(watch=watch)
    cfg = watch_config(s)
    if with_forecast:
        fc = _forecast(s, cfg)
        if json_out:
            print(json.dumps(_forecast_doc(fc), ensure_ascii=False))
        else:
            _print_forecast(fc)
        return
    with errors(WatchConfigError):
        compiled = compile_rules(cfg, max_length=max_length)
    scopes = [rule_scope(r) for r in compiled]
    if json_out:
        rows = [
            {"value": r.value, "tag": r.tag, "kind": sc.kind, "sample": sc.sample}
            for r, sc in zip(compiled, scopes, strict=True)
        ]
        print(json.dumps(rows, ensure_ascii=False))
        return
    table = Table(
        "tag",
        "kind",
        "rule",
        "chars",
        title=f"{len(compiled)} X filtered-stream rules",
        title_justify="left",
        caption="entry: reads every post that names the entry; sector N%: reads N% of the "
        "posts its keywords match (broad traffic: sample it). Topics read nothing.",
        caption_justify="left",
    )
    for r, sc in zip(compiled, scopes, strict=True):
        table.add_row(r.tag, str(sc), r.value, str(len(r.value)))
    out_console().print(table)


def _forecast(s: Settings, cfg: WatchConfig) -> Forecast:
    """The rules' cost forecast from X's post counts; fails the command when X gives none."""
    from ingest.x.backfill import RecentSearch
    from ingest.x.forecast import forecast
    from veille import xapi
    from veille.watch import WatchConfigError

    with errors(WatchConfigError, xapi.XApiError):
        return forecast(
            RecentSearch(xapi.client(s.x)),
            cfg,
            price_per_post_usd=s.x.price_per_post_usd,
            budget_usd=s.x.monthly_budget_usd,
            query_max_length=s.x.search_query_max_length,
        )
    raise AssertionError("unreachable")


def _forecast_doc(fc: Forecast) -> dict[str, Any]:
    return {
        "forecast": [f.model_dump(mode="json") for f in fc.items],
        "total": {"posts_per_day": round(fc.posts_per_day, 1), "cost_month_usd": fc.cost_month_usd},
        "budget_usd": fc.budget_usd,
    }


def _print_forecast(fc: Forecast) -> None:
    budget = "no budget" if fc.budget_usd is None else f"budget ${fc.budget_usd:,.2f}/month"
    table = Table(
        "watch item",
        "rules",
        "sample",
        "posts/day",
        "USD/month",
        "",
        title=f"Cost forecast from X's post counts of the last {fc.items[0].days:.0f} days"
        if fc.items
        else "Cost forecast",
        title_justify="left",
        caption=f"total ~{fc.posts_per_day:,.0f} posts/day, ${fc.cost_month_usd:,.2f}/month "
        f"({budget}; an upper bound: X bills a post once a day whichever rules match it)",
        caption_justify="left",
    )
    for f in fc.items:
        table.add_row(
            f.tag,
            str(f.rules),
            f"{f.sample_pct}%" if f.sample_pct is not None else "",
            f"{f.posts_per_day:,.0f}",
            f"{f.cost_month_usd:,.2f}",
            "over budget" if f.over_budget else "",
        )
    out_console().print(table)
    if fc.exceeds_budget():
        out_console().print(f"the rules together would cost more than the {budget}")


@rules_app.command("sync")
def rules_sync(
    watch: Annotated[Path | None, typer.Option(help=WATCH_HELP)] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="show the changes, make none")] = False,
    yes: Annotated[
        bool, typer.Option("--yes", help="add rules even when one alone exceeds the budget")
    ] = False,
) -> None:
    """Make the stream's rules on X equal to those compiled from watch.yaml, after printing
    what they will cost (X's post counts of the last 7 days). Rules to add whose watch item
    alone would cost more than X_MONTHLY_BUDGET_USD a month are refused, and named, unless
    --yes.

    Example: veille rules sync --dry-run
    """
    from ingest.x import rules as sync
    from ingest.x.forecast import refusal, refused
    from ingest.x.stream import FilteredStream
    from veille import xapi
    from veille.watch import WatchConfigError, compile_rules

    s = settings(watch=watch)
    cfg = watch_config(s)
    fc = _forecast(s, cfg)
    _print_forecast(fc)
    with errors(WatchConfigError, xapi.XApiError):
        compiled = compile_rules(cfg)
        client = xapi.streaming_client(s.x, FilteredStream)
        plan = sync.plan(sync.current(client), compiled)
        over = refused(fc, plan.add)
        if over and not yes and not dry_run:
            fail(refusal(over))
        if plan.changes and not dry_run:
            sync.apply(client, plan)
    verb = "would " if dry_run else ""
    for r in plan.add:
        print(f"{verb}add     {r.tag}: {r.value}")
    for d in plan.delete:
        print(f"{verb}delete  {d.tag}: {d.value} (id {d.id})")
    print(
        f"{len(plan.keep)} rules unchanged, {len(plan.add)} {verb}added, "
        f"{len(plan.delete)} {verb}deleted"
    )
    if over and dry_run:
        print("refused without --yes: " + refusal(over))


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
    from ingest.x.backfill import BackfillSource, RecentSearch, gap_fill_queries
    from veille import xapi
    from veille.kafka import DeliveryError

    s = settings(watch=watch)
    with errors(ValueError):
        s.kafka.servers  # noqa: B018
    start = datetime.now(UTC) - parse_duration(since)
    source = BackfillSource(
        lambda: RecentSearch(xapi.client(s.x), max_results=s.x.search_max_results),
        gap_fill_queries(watch_config(s), s.x.search_query_max_length),
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
