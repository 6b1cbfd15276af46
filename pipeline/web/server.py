"""One HTTP port for the live page and the read-only ClickHouse endpoint, in a thread.

`LiveServer(store, ...)` stores its settings; `start()` binds the port (0 picks a free one;
`OSError` when it is taken), starts the aiohttp server on an event loop of its own thread, and,
given a data directory, announces itself there (`pipeline.web.discovery`) so that `veille
query` and `veille report` read through it. `stop()` withdraws the announcement and stops the
server; it is idempotent.

Routes: `/` the page (or a ClickHouse query when the URL has `query=`, as ClickHouse's own
`GET /?query=` is), `POST /` ClickHouse queries, `/ping`, `/panels` the page's refreshed part,
`/static/*` its stylesheet and script (shipped in the package: no network needed).
The page reads through the endpoint itself, with clickhouse-connect, so it is read-only too.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path
from typing import Any

from aiohttp import web

from pipeline.web import chhttp, discovery, live
from pipeline.web import page as pages
from pipeline.web.store import ReadOnlyStore, open_store
from sinks.report.style import CSS as REPORT_CSS
from veille.settings import Settings

logger = logging.getLogger(__name__)

PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' "
    "'unsafe-inline'; img-src 'self' data:; object-src 'none'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class LiveServer:
    """The page and the endpoint over `store`. Call `start()`, and always `stop()`."""

    def __init__(
        self,
        store: ReadOnlyStore,
        *,
        database: str,
        host: str = "127.0.0.1",
        port: int = 8765,
        run_dir: Path | None = None,
        data_dir: Path | None = None,
        refresh_s: int = pages.REFRESH_S,
    ) -> None:
        self.store = store
        self.database = database
        self.host = host
        self.requested_port = port
        self.run_dir = run_dir
        self.data_dir = data_dir
        self.refresh_s = refresh_s
        self.port = 0
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._queries = ThreadPoolExecutor(2, thread_name_prefix="ch-read")
        self._pages = ThreadPoolExecutor(1, thread_name_prefix="live-page")
        self._client: Any = None
        self._previous: dict[str, tuple[float, dict[str, Any]]] = {}

    @property
    def client_host(self) -> str:
        """The address a local client reaches this server at."""
        return "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host

    @property
    def url(self) -> str:
        return f"http://{self.client_host}:{self.port}/"

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> str:
        """Bind and serve; returns the URL. Raises `OSError` when the port cannot be bound."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.requested_port))
            sock.listen(64)
        except OSError:
            sock.close()
            raise
        self._sock = sock
        self.port = sock.getsockname()[1]
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._serve, args=(ready,), name="live-http", daemon=True
        )
        self._thread.start()
        if not ready.wait(30):
            raise OSError("the live page's server did not start")
        if self.data_dir is not None:
            served = discovery.Served(os.getpid(), self.client_host, self.port, self.database)
            discovery.announce(self.data_dir, served)
        logger.info("serving url=%s", self.url)
        return self.url

    def _serve(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        self._runner = web.AppRunner(self._app(), access_log=None, handle_signals=False)
        loop.run_until_complete(self._runner.setup())
        assert self._sock is not None
        loop.run_until_complete(web.SockSite(self._runner, self._sock).start())
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

    def stop(self) -> None:
        """Withdraw the announcement and stop serving. Idempotent."""
        if self.data_dir is not None:
            discovery.withdraw(self.data_dir)
        loop, thread = self._loop, self._thread
        self._loop = self._thread = None
        if loop is not None and thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
        if self._client is not None:
            self._client.close()
            self._client = None
        self._queries.shutdown(wait=False, cancel_futures=True)
        self._pages.shutdown(wait=False, cancel_futures=True)
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    # -- the app --------------------------------------------------------------------------

    def _app(self) -> web.Application:
        app = web.Application(client_max_size=16 * 1024 * 1024)
        chhttp.add_routes(app, self.store, self._queries)
        app.router.add_get("/", self._index)
        app.router.add_get("/panels", self._panels)
        app.router.add_get("/static/{name}", self._static)
        return app

    def _read(self, view: live.View) -> live.LiveData:
        """One snapshot, read through this server's own ClickHouse endpoint (page thread)."""
        if self._client is None:
            import clickhouse_connect

            self._client = clickhouse_connect.get_client(host=self.client_host, port=self.port)
        return live.collect(self._client, view, self.run_dir, self._previous)

    async def _snapshot(self, view: live.View) -> tuple[live.LiveData | None, str]:
        from sinks.base import SinkError

        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pages, self._read, view), ""
        except SinkError as e:
            return None, f"The store could not be read: {e}"
        except Exception as e:  # the endpoint unreachable, a client error: show it, keep serving
            logger.warning("live page read failed: %s", e)
            self._client = None
            return None, f"The store could not be read: {e}"

    async def _index(self, request: web.Request) -> web.StreamResponse:
        if "query" in request.query:
            return await chhttp.handle_query(request)
        view = live.View.from_query(request.query)
        data, error = await self._snapshot(view)
        if data is None:
            html = pages.page(pages.error_panel(error), pages.controls(view), self.refresh_s)
        else:
            html = pages.page(pages.panels(data), pages.controls_for(data), self.refresh_s)
        return web.Response(text=html, content_type="text/html", headers=PAGE_HEADERS)

    async def _panels(self, request: web.Request) -> web.Response:
        data, error = await self._snapshot(live.View.from_query(request.query))
        if data is None:
            return web.Response(status=503, text=error, content_type="text/plain")
        return web.Response(text=pages.panels(data), content_type="text/html", headers=PAGE_HEADERS)

    async def _static(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name == "report.css":
            return web.Response(text=REPORT_CSS, content_type="text/css")
        kinds = {"live.css": "text/css", "live.js": "text/javascript"}
        if name not in kinds:
            raise web.HTTPNotFound()
        text = (resources.files("pipeline.web") / "static" / name).read_text(encoding="utf-8")
        return web.Response(text=text, content_type=kinds[name])


def start_server(
    settings: Settings, *, host: str = "127.0.0.1", port: int = 8765, run_dir: Path | None = None
) -> LiveServer:
    """Serve the store veille's `settings` name, announced in the data directory.

    When `port` is taken, a free port is used instead (with a warning): the URL that
    `server.url` and the discovery file give is always the one that answers. Raises `OSError`
    only when no port can be bound at all.
    """
    store = open_store(settings.clickhouse, settings.veille.clickhouse_path())
    data_dir = settings.veille.data_dir
    db = settings.clickhouse.database
    server = LiveServer(
        store, database=db, host=host, port=port, run_dir=run_dir, data_dir=data_dir
    )
    try:
        server.start()
    except OSError as e:
        if port == 0:
            raise
        logger.warning("port %d unavailable (%s); serving on a free port instead", port, e)
        server = LiveServer(
            store, database=db, host=host, port=0, run_dir=run_dir, data_dir=data_dir
        )
        server.start()
    return server
