"""`veille bench ...`: throughput figures to compare within one run (never timed in tests)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from veille.cli.common import WATCH_HELP, errors, out_console, settings, watch_config

bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks (figures, not tests).")


@bench_app.command("enrich")
def bench_enrich(
    posts: Annotated[int, typer.Option(help="synthetic posts to enrich")] = 5000,
    batch: Annotated[int, typer.Option(help="posts per batch, as taken from the stream")] = 500,
    accurate_posts: Annotated[
        int, typer.Option(help="posts for the accurate sentiment backend (slow; 0 skips it)")
    ] = 200,
    watch: Annotated[Path | None, typer.Option(help=WATCH_HELP)] = None,
    json_out: Annotated[bool, typer.Option("--json", help="last line: one JSON object")] = False,
) -> None:
    """Posts per second on one core of each enrichment stage and sentiment backend.

    Example: veille bench enrich --posts 5000 --json
    """
    from processors.enrich import bench

    cfg = watch_config(settings(watch=watch))
    with errors(NotImplementedError, FileNotFoundError):
        result = bench.run(cfg, posts=posts, batch=batch, accurate_posts=accurate_posts)
    table = Table(
        "stage",
        "posts/s (one core)",
        title=f"veille bench enrich: {result['posts']} posts, batches of {result['batch']}",
        title_justify="left",
    )
    for stage, rate in result["posts_per_s"].items():
        table.add_row(stage, f"{rate:,}")
    out_console().print(table)
    if json_out:
        print(json.dumps(result))
