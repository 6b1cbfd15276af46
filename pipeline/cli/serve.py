"""`veille serve`: the live page and the read-only ClickHouse endpoint, without a pipeline."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Annotated

import typer

from pipeline.cli.common import DATA_DIR_HELP, err_console, errors, fail, settings

PORT_HELP = "HTTP port of the page and the ClickHouse endpoint (0: a free port)"
HOST_HELP = "address to listen on (127.0.0.1: this machine only)"


def serve(
    port: Annotated[int, typer.Option(help=PORT_HELP)] = 8765,
    host: Annotated[str, typer.Option(help=HOST_HELP)] = "127.0.0.1",
    data_dir: Annotated[Path | None, typer.Option(help=DATA_DIR_HELP)] = None,
) -> None:
    """Serve the live page at / and a read-only ClickHouse HTTP endpoint on the same port.

    Reads CLICKHOUSE_URL's server (a deployment), else the chDB store of --data-dir when no
    other process owns it (while `veille up` runs, its own page is already served). Runs until
    Ctrl-C or SIGTERM. clickhouse-connect, notebooks and Grafana read the endpoint as they would
    read ClickHouse: clickhouse_connect.get_client(host='127.0.0.1', port=8765).

    Example: CLICKHOUSE_URL=http://clickhouse:8123 veille serve --port 8080 --host 0.0.0.0
    """
    from pipeline.web import discovery
    from pipeline.web.server import start_server
    from sinks.base import SinkError
    from sinks.clickhouse import connect

    s = settings(data_dir=data_dir)
    owner = None
    if not s.clickhouse.url:
        served = discovery.find(s.veille.data_dir)
        if served is not None:
            fail(f"{s.veille.data_dir} is already served by pid {served.pid}: open {served.url}")
        path = s.veille.clickhouse_path()
        if not path.exists():
            fail(f"no data in {path}: run `veille up` first, or set CLICKHOUSE_URL")
        with errors(SinkError):
            owner = connect(s.clickhouse, path)  # holds the chDB directory while serving
    run_dir = s.veille.data_dir / "run"
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with errors(OSError):
        server = start_server(
            s, host=host, port=port, run_dir=run_dir if run_dir.is_dir() else None
        )
    try:
        err_console.print(f"live page: {server.url}  (Ctrl-C stops)", highlight=False)
        err_console.print(
            f"ClickHouse endpoint (read-only): clickhouse_connect.get_client(host="
            f"'{server.client_host}', port={server.port})",
            highlight=False,
        )
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
        if owner is not None:
            owner.close()
