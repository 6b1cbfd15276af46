"""ClickHouse's HTTP interface, read-only, in front of a `ReadOnlyStore`.

Enough of https://clickhouse.com/docs/interfaces/http for clickhouse-connect, notebooks and a
Grafana ClickHouse datasource in HTTP mode:

- `GET /ping` answers `Ok.`; `GET|POST /?query=...` runs a statement: the SQL is the `query`
  URL parameter, the request body, or both (joined by a newline), or the `query` field of a
  form (clickhouse-connect sends one when it binds parameters);
- `param_NAME` (URL or form) binds `{NAME:Type}` server-side parameters, `database` and
  `default_format` choose the database and the output format (TabSeparated unless the SQL ends
  with FORMAT), and other URL parameters are settings; transport parameters (`query_id`,
  `session_id`, `compress`, `wait_end_of_query`, ...) are accepted and ignored;
- the response carries `X-ClickHouse-Format`, `-Timezone`, `-Query-Id` and `-Summary`, and is
  gzip/deflate-compressed when `enable_http_compression=1` and the client accepts it;
- errors answer ClickHouse's status for the code (500 for READONLY), the
  `X-ClickHouse-Exception-Code` header and the `Code: N. DB::Exception: ... (NAME)` body.

A request that carries an `Origin` header (a browser) is refused unless the origin is this
server itself, so that a web page the user visits cannot make the browser read the store.
Statements run in a thread pool, never on the event loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from aiohttp import web
from multidict import MultiMapping

from pipeline.web.store import ClickHouseError, ReadOnlyStore, ReadRequest

logger = logging.getLogger(__name__)

# URL parameters that are not settings of the statement (ClickHouse's HTTP handler's own, and
# the HTTP-only settings that make no sense for a body computed in full before it is sent)
TRANSPORT = frozenset(
    {
        "query",
        "database",
        "default_format",
        "query_id",
        "session_id",
        "session_timeout",
        "session_check",
        "close_session",
        "compress",
        "decompress",
        "user",
        "password",
        "quota_key",
        "role",
        "buffer_size",
        "wait_end_of_query",
        "client_protocol_version",
        "stacktrace",
        "enable_http_compression",
        "send_progress_in_http_headers",
        "http_headers_progress_interval_ms",
        "cancel_http_readonly_queries_on_client_close",
        "http_wait_end_of_query",
        "http_response_buffer_size",
        "http_write_exception_in_output_format",
        "add_http_cors_header",
    }
)

# ClickHouse's HTTP status for an exception code (src/Server/HTTP/exceptionCodeToHTTPStatus.cpp),
# for the codes a read can raise; everything else is 500
_STATUS = {
    **dict.fromkeys((497,), 403),
    **dict.fromkeys((6, 8, 27, 36, 38, 41, 43, 44, 53, 62, 69, 70, 72, 117), 400),
    **dict.fromkeys((46, 47, 50, 60, 63, 73, 81, 115, 167, 511), 404),
    48: 501,
    159: 408,
}

STORE = web.AppKey("clickhouse_store", ReadOnlyStore)
POOL = web.AppKey("clickhouse_pool", ThreadPoolExecutor)


def error_response(err: ClickHouseError, query_id: str = "") -> web.Response:
    """The response ClickHouse sends for `err`."""
    headers = {"X-ClickHouse-Exception-Code": str(err.code)}
    if query_id:
        headers["X-ClickHouse-Query-Id"] = query_id
    return web.Response(
        status=_STATUS.get(err.code, 500),
        text=err.message.rstrip() + "\n",
        content_type="text/plain",
        headers=headers,
    )


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc == request.host


async def read_request(request: web.Request) -> ReadRequest:
    """The statement a ClickHouse HTTP request carries. Raises `ClickHouseError`."""
    url: MultiMapping[str] = request.query
    parts = [url["query"]] if url.get("query") else []
    form: dict[str, str] = {}
    if request.method == "POST":
        if request.content_type == "multipart/form-data":  # any other body is the SQL itself
            posted = await request.post()
            form = {k: v for k, v in posted.items() if isinstance(v, str)}
            if form.get("query"):
                parts.append(form["query"])
        else:
            body = await request.read()
            if body:
                try:
                    parts.append(body.decode("utf-8"))
                except UnicodeDecodeError:
                    raise ClickHouseError(
                        36, "Code: 36. DB::Exception: the query is not UTF-8. (BAD_ARGUMENTS)"
                    ) from None
    params: dict[str, str] = {}
    settings: dict[str, str] = {}
    for key, value in [*url.items(), *form.items()]:
        if key.startswith("param_"):
            params[key[6:]] = value
        elif key not in TRANSPORT and key in url:
            settings[key] = value
    return ReadRequest(
        sql="\n".join(parts),
        database=url.get("database") or None,
        settings=settings,
        params=params,
        default_format=url.get("default_format") or "TabSeparated",
        query_id=url.get("query_id") or str(uuid.uuid4()),
    )


async def handle_query(request: web.Request) -> web.StreamResponse:
    """`/`: run one read-only statement (see the module's docstring)."""
    query_id = request.query.get("query_id", "")
    if not _same_origin(request):
        err = ClickHouseError(
            497,
            "Code: 497. DB::Exception: requests from a web page of another origin are refused. "
            "(ACCESS_DENIED)",
        )
        return error_response(err, query_id)
    try:
        statement = await read_request(request)
        query_id = statement.query_id
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(request.app[POOL], request.app[STORE].read, statement)
    except ClickHouseError as e:
        logger.info("refused query_id=%s code=%d", query_id, e.code)
        return error_response(e, query_id)
    response = web.Response(
        body=result.body,
        content_type="text/plain"
        if result.format.startswith(("TabSeparated", "TSV", "CSV"))
        else "application/octet-stream",
        headers={
            "X-ClickHouse-Format": result.format,
            "X-ClickHouse-Timezone": result.timezone,
            "X-ClickHouse-Query-Id": query_id,
            "X-ClickHouse-Summary": json.dumps(result.summary),
            "X-ClickHouse-Server-Display-Name": "veille",
        },
    )
    if request.query.get("enable_http_compression") == "1":
        accepted = request.headers.get("Accept-Encoding", "")
        if "gzip" in accepted or "deflate" in accepted:
            response.enable_compression()
    return response


async def handle_ping(request: web.Request) -> web.Response:
    return web.Response(text="Ok.\n")


def add_routes(app: web.Application, store: ReadOnlyStore, pool: ThreadPoolExecutor) -> None:
    """Serve the ClickHouse HTTP interface at `/` (queries) and `/ping` on `app`."""
    app[STORE] = store
    app[POOL] = pool
    app.router.add_get("/ping", handle_ping)
    app.router.add_post("/", handle_query)
