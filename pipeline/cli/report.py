"""`veille report`: a self-contained HTML report of the stored posts, for a manager."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from pipeline.cli.common import DATA_DIR_HELP, errors, fail, out_console


def report(
    since: Annotated[
        str, typer.Option(help="period length: 30m, 12h, 7d, 2w — ending at the newest post")
    ] = "7d",
    out: Annotated[Path, typer.Option("--out", "-o", help="HTML file to write")] = Path(
        "report.html"
    ),
    entry: Annotated[
        str | None,
        typer.Option(help="only posts about this watch entry (and headline its share of voice)"),
    ] = None,
    title: Annotated[str | None, typer.Option(help="report title")] = None,
    data_dir: Annotated[Path | None, typer.Option(help=DATA_DIR_HELP)] = None,
) -> None:
    """Write a one-file HTML report: volume, sentiment, share of voice, authors, care, alerts.

    The period is the --since length ending at the newest stored post (event time), so replayed
    and simulated data report like live data. The file opens offline: no script, font or image
    is fetched; charts are inline SVG.

    Example: veille report --since 7d --out report.html --entry 'Orbital Telecom'
    """
    from pipeline.cli.data import _client
    from sinks.queries import QueryError
    from sinks.report import ReportError, build_report, parse_since

    with errors(ReportError):
        length = parse_since(since)  # a bad --since fails before opening chDB
    started = time.monotonic()
    client = _client(data_dir)
    try:
        with errors(ReportError, QueryError):
            built = build_report(client, length, entry=entry, title=title)
    finally:
        client.close()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(built.html, encoding="utf-8")
    except OSError as e:
        fail(f"cannot write {out}: {e}", code=1)

    d = built.data
    empty = built.empty_sections()
    console = out_console()
    console.print(
        f"wrote {out} ({len(built.html.encode()) / 1024:,.0f} KiB) in "
        f"{time.monotonic() - started:.1f} s",
        highlight=False,
    )
    console.print(f"period: {d.period.describe()}", highlight=False)
    share = d.main_brand_share
    console.print(
        f"{d.totals.posts:,} posts"
        + (f", {d.totals.share_negative:.1%} negative" if d.totals.posts else "")
        + (f", share of voice {d.main_brand} {share:.1%}" if share is not None else "")
        + f", {len(d.alerts)} alerts"
        + f", care queue {len(d.care_queue):,}{'+' if d.care_queue_capped else ''}",
        highlight=False,
    )
    if entry and not any(r["entry"] == entry for r in d.sentiment_by_entry):
        console.print(
            f"note: no post about {entry!r} in this period (names as in watch.yaml)",
            highlight=False,
        )
    if empty:
        console.print(f"sections with no data: {', '.join(empty)}", highlight=False)
    if d.period.newest is None:
        console.print("no post is stored yet: run `veille up` to collect some", highlight=False)
