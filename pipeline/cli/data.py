"""`veille query`, `veille rules`, `veille db migrate`: reading what veille stores and watches."""

from __future__ import annotations

import csv
import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from pipeline.cli.common import (
    DATA_DIR_HELP,
    errors,
    fail,
    out_console,
    settings,
)

db_app = typer.Typer(no_args_is_help=True, help="ClickHouse schema.")


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


def _client(data_dir: Path | None) -> Any:
    """A client on the store: CLICKHOUSE_URL's server; else, while a process serves the data
    directory (`veille up`, `veille serve`), its read-only endpoint; else chDB in process."""
    from pipeline.web import discovery
    from sinks.base import SinkError
    from sinks.clickhouse import connect

    s = settings(data_dir=data_dir)
    path = s.veille.clickhouse_path()
    if not s.clickhouse.url:
        served = discovery.find(s.veille.data_dir)
        if served is not None:
            return _served_client(served)
        if not path.exists():
            fail(f"no data in {path}: run `veille up` first, or set CLICKHOUSE_URL")
    with errors(SinkError):
        return connect(s.clickhouse, path)


def _served_client(served: Any) -> Any:
    import clickhouse_connect

    try:
        return clickhouse_connect.get_client(
            host=served.host, port=served.port, database=served.database or None
        )
    except Exception as e:
        fail(f"the running pipeline (pid {served.pid}) does not answer at {served.url}: {e}", 1)


def _param(values: list[str]) -> dict[str, str]:
    out = {}
    for v in values:
        key, sep, val = v.partition("=")
        if not sep or not key:
            fail(f"--param takes key=value, got {v!r}")
        out[key.strip()] = val
    return out


def query(
    name: Annotated[str | None, typer.Argument(help="query name; omit to list them")] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="parameter as key=value (repeatable)")
    ] = None,
    data_dir: Annotated[Path | None, typer.Option(help=DATA_DIR_HELP)] = None,
    format: Annotated[Format, typer.Option("--format", "-f", help="output format")] = Format.table,
) -> None:
    """Run a named trend query against the stored posts.

    Example: veille query mentions_over_time --param interval_s=60 --format json
    """
    from sinks import queries

    if name is None:
        table = Table("query", "what it answers", "parameters")
        for q in queries.available().values():
            table.add_row(
                q.name, q.description, ", ".join(f"{p.name}={p.default!r}" for p in q.params)
            )
        out_console().print(table)
        return
    print_query(name, _param(param or []), data_dir, format)


def print_query(name: str, params: dict[str, str], data_dir: Path | None, format: str) -> None:
    """Run a named query and print its rows as a table, JSON or CSV."""
    from sinks import queries

    with errors(queries.QueryError):
        queries.get(name).bind(params)  # unknown names fail before opening chDB
        client = _client(data_dir)
        try:
            columns, rows = queries.run(client, name, params)
        finally:
            client.close()
    if format == Format.json:
        print(json.dumps([dict(zip(columns, r, strict=True)) for r in rows], ensure_ascii=False))
    elif format == Format.csv:
        w = csv.writer(sys.stdout)
        w.writerow(columns)
        w.writerows(rows)
    else:
        table = Table(*columns, title=name, title_justify="left")
        for r in rows:
            table.add_row(*(", ".join(map(str, v)) if isinstance(v, list) else str(v) for v in r))
        out_console().print(table)


@db_app.command("migrate")
def migrate(
    data_dir: Annotated[Path | None, typer.Option(help=DATA_DIR_HELP)] = None,
) -> None:
    """Apply the pending ClickHouse migrations (the sink also does it when it starts).

    Example: CLICKHOUSE_URL=http://localhost:8123 veille db migrate
    """
    from sinks.base import SinkError
    from sinks.clickhouse import connect
    from sinks.migrate import migrate as apply

    s = settings(data_dir=data_dir)
    with errors(SinkError):
        client = connect(s.clickhouse, s.veille.clickhouse_path())
        try:
            ran = apply(client, s.clickhouse.cluster)
        finally:
            client.close()
    for mg in ran:
        print(f"applied {mg.version:04d}_{mg.name}")
    if not ran:
        print("schema is up to date")
