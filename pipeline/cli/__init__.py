"""The `veille` command line: one typer app, one module per group of commands."""

from __future__ import annotations

from typing import Annotated

import typer

from pipeline.cli import bench, data, enrich, report, serve, stages, train, up, xcmd
from pipeline.cli.common import setup_logging

app = typer.Typer(
    name="veille",
    help="Real-time social listening on X: ingest, enrich, store, query.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)


@app.callback()
def _root(
    log_level: Annotated[
        str | None,
        typer.Option(help="DEBUG, INFO, WARNING or ERROR [default: VEILLE_LOG_LEVEL or WARNING]"),
    ] = None,
) -> None:
    setup_logging(log_level)


app.command()(up.up)
app.command()(stages.ingest)
app.command()(stages.process)
app.command()(stages.sink)
app.command()(data.query)
app.command()(report.report)
app.command()(serve.serve)
app.add_typer(xcmd.rules_app, name="rules")
app.command()(xcmd.backfill)
app.command()(xcmd.usage)
app.command()(xcmd.compliance)
app.command()(enrich.enrich)
app.add_typer(data.db_app, name="db")
app.add_typer(train.train_app, name="train")
app.add_typer(train.eval_app, name="eval")
app.add_typer(bench.bench_app, name="bench")


def main() -> None:
    app()
