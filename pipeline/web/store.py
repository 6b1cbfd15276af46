"""Read-only access to a ClickHouse store: chDB in this process, or a ClickHouse server.

A `ReadRequest` is one statement as ClickHouse's HTTP interface receives it (SQL, database,
settings, `{name:Type}` parameters, output format). `ChdbStore` runs it on a fresh chDB handle of
the engine this process already owns (chDB allows any number of handles in one process, one
process per directory), and `ServerStore` forwards it to a ClickHouse server. Both return the
body in the requested format, untouched, and both enforce read-only:

- the statement must start with SELECT, WITH, SHOW, DESCRIBE/DESC, EXISTS or EXPLAIN;
- a `readonly` setting other than 1 or 2 is refused;
- the statement itself runs with `readonly=1`, so ClickHouse refuses any write (and table
  functions such as `file()` or `url()`) on its own, whatever the SQL hides.

Refusals and ClickHouse errors are `ClickHouseError`s, which carry ClickHouse's own code, name
and message, so the HTTP layer answers in ClickHouse's error shape.
"""

from __future__ import annotations

import base64
import json
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlencode

from clickhouse_connect.driver.binding import quote_identifier

from veille.settings import ClickHouseSettings

READONLY = 164
SYNTAX_ERROR = 62
NOT_IMPLEMENTED = 48

_ALLOWED = {"SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXISTS", "EXPLAIN"}
_SETTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TRAILING_FORMAT = re.compile(r"\bFORMAT\s+(\w+)\s*;?\s*$", re.IGNORECASE)
_CODE = re.compile(r"Code: (\d+)")
_NAME = re.compile(r"\(([A-Z][A-Z0-9_]+)\)\s*$")
_LEADING_NOISE = re.compile(
    r"\A(?:\s+|--[^\n]*(?:\n|\Z)|#[^\n]*(?:\n|\Z)|/\*.*?\*/|\()+", re.DOTALL
)


class ClickHouseError(Exception):
    """An error as ClickHouse reports it: a numeric code and a `Code: N. DB::Exception: ...`
    message ending with the error's name in parentheses."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @classmethod
    def readonly(cls, detail: str) -> ClickHouseError:
        return cls(READONLY, f"Code: {READONLY}. DB::Exception: {detail}. (READONLY)")

    @classmethod
    def from_text(cls, text: str) -> ClickHouseError:
        """Parse an engine or server error message (`... Code: N. DB::Exception: ...`)."""
        start = text.find("Code: ")
        message = (text[start:] if start >= 0 else text).strip()
        m = _CODE.search(message)
        code = int(m.group(1)) if m else 1000
        if not message.startswith("Code: "):
            message = f"Code: {code}. DB::Exception: {message}. (POCO_EXCEPTION)"
        return cls(code, message)

    @property
    def name(self) -> str:
        m = _NAME.search(self.message)
        return m.group(1) if m else ""


@dataclass(frozen=True)
class ReadRequest:
    """One statement to run. `params` are bare parameter names (no `param_` prefix); the
    statement's own trailing FORMAT clause, if any, wins over `default_format`."""

    sql: str
    database: str | None = None
    settings: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    default_format: str = "TabSeparated"
    query_id: str = ""

    @property
    def output_format(self) -> str:
        m = _TRAILING_FORMAT.search(self.sql)
        return m.group(1) if m else self.default_format


@dataclass(frozen=True)
class ReadResult:
    """The result body, in `format`, and ClickHouse's summary figures (strings)."""

    body: bytes
    format: str
    summary: dict[str, str] = field(default_factory=dict)
    timezone: str = "UTC"


class ReadOnlyStore(Protocol):
    """Runs read-only statements; blocking, safe to call from several threads."""

    def read(self, request: ReadRequest) -> ReadResult:
        """Run `request`. Raises `ClickHouseError` (a refusal or ClickHouse's own error)."""
        ...

    def close(self) -> None:
        """Release what the store holds. Idempotent."""
        ...


def statement_kind(sql: str) -> str:
    """The first keyword of `sql`, upper-case, past comments and opening parentheses."""
    m = _LEADING_NOISE.match(sql)
    rest = sql[m.end() :] if m else sql
    word = re.match(r"[A-Za-z]+", rest)
    return word.group(0).upper() if word else ""


def check_read_only(request: ReadRequest) -> None:
    """Refuse, as ClickHouse would for a read-only user, anything but a read.

    Raises `ClickHouseError` (code 164, READONLY) for a statement that is not a read or a
    `readonly` setting other than 1 or 2; code 62 for an empty query.
    """
    kind = statement_kind(request.sql)
    if not kind:
        raise ClickHouseError(SYNTAX_ERROR, "Code: 62. DB::Exception: Empty query. (SYNTAX_ERROR)")
    if kind not in _ALLOWED:
        raise ClickHouseError.readonly(
            f"Cannot execute query in readonly mode: {kind} is not a read (this endpoint only "
            "runs SELECT, WITH, SHOW, DESCRIBE, EXISTS and EXPLAIN)"
        )
    value = request.settings.get("readonly")
    if value is not None and value.strip() not in ("1", "2"):
        raise ClickHouseError.readonly("Cannot modify 'readonly' setting in readonly mode")
    for name in request.settings:
        if not _SETTING_NAME.match(name):
            raise ClickHouseError(
                115, f"Code: 115. DB::Exception: Unknown setting '{name}'. (UNKNOWN_SETTING)"
            )


def _quote_value(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class ChdbStore:
    """Reads the chDB engine of this process, at `path`, on a fresh handle per statement.

    Each statement gets its own handle (about a millisecond to open), on which the request's
    database and settings are applied, then `readonly=1`, then the statement: settings never
    leak between requests, and the writer's own handle (the sink's) is never touched, so reads
    do not wait for inserts. At most `max_concurrent` statements run at once (more wait), so
    that readers leave CPU to the writer. `database` is the default when a request names none.
    Opens nothing until the first `read()`.
    """

    def __init__(self, path: Path, database: str, max_concurrent: int = 2) -> None:
        self.path = path
        self.database = database
        self._slots = threading.BoundedSemaphore(max_concurrent)
        self._timezone: str | None = None
        self._closed = False

    def _connect(self) -> Any:
        import chdb

        # chDB compares engine paths literally: spell it as clickhouse-connect's chdb DSN does
        return chdb.connect(os.path.realpath(self.path))

    def read(self, request: ReadRequest) -> ReadResult:
        check_read_only(request)
        if self._closed:
            raise ClickHouseError(
                210, "Code: 210. DB::Exception: the store is closed. (NETWORK_ERROR)"
            )
        fmt = request.output_format
        with self._slots:
            try:
                conn = self._connect()
            except Exception as e:
                raise ClickHouseError.from_text(str(e)) from None
            try:
                if self._timezone is None:
                    self._timezone = (
                        conn.query("SELECT timezone()", "TabSeparated").bytes().decode().strip()
                    )
                conn.query(
                    f"USE {quote_identifier(request.database or self.database)}", "TabSeparated"
                )
                for name, value in request.settings.items():
                    if name != "readonly":
                        conn.query(f"SET {name} = {_quote_value(value)}", "TabSeparated")
                conn.query("SET readonly = 1", "TabSeparated")
                started = time.perf_counter()
                result = conn.query(request.sql, fmt, params=dict(request.params))
                elapsed = time.perf_counter() - started
                body = result.bytes() or b""
                summary = {
                    "read_rows": str(result.rows_read()),
                    "read_bytes": str(result.bytes_read()),
                    "elapsed_ns": str(int(elapsed * 1e9)),
                }
            except ClickHouseError:
                raise
            except Exception as e:
                raise ClickHouseError.from_text(str(e)) from None
            finally:
                conn.close()
        return ReadResult(body, fmt, summary, self._timezone or "UTC")

    def close(self) -> None:
        self._closed = True


class ServerStore:
    """Forwards reads to a ClickHouse server over HTTP (`url`, with veille's credentials),
    adding `readonly=1` to every request. Opens a connection pool at the first `read()`."""

    def __init__(
        self, url: str, user: str, password: str, database: str, timeout_s: float = 30.0
    ) -> None:
        self.url = url.rstrip("/") + "/"
        self.database = database
        self.timeout_s = timeout_s
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        self._auth = f"Basic {token}"
        self._pool: Any = None
        self._lock = threading.Lock()

    def read(self, request: ReadRequest) -> ReadResult:
        import urllib3

        check_read_only(request)
        with self._lock:
            if self._pool is None:
                self._pool = urllib3.PoolManager(maxsize=4)
        query: dict[str, str] = {**request.settings, "readonly": "1"}
        query["database"] = request.database or self.database
        query["default_format"] = request.default_format
        if request.query_id:
            query["query_id"] = request.query_id
        query.update({f"param_{k}": v for k, v in request.params.items()})
        try:
            resp = self._pool.request(
                "POST",
                f"{self.url}?{urlencode(query)}",
                body=request.sql.encode(),
                headers={"Authorization": self._auth, "Content-Type": "text/plain; charset=utf-8"},
                timeout=self.timeout_s,
                retries=False,
            )
        except Exception as e:
            raise ClickHouseError(
                210, f"Code: 210. DB::Exception: {self.url} unreachable: {e}. (NETWORK_ERROR)"
            ) from None
        body: bytes = resp.data
        code = resp.headers.get("X-ClickHouse-Exception-Code")
        if resp.status >= 400 or code:
            raise ClickHouseError.from_text(body.decode(errors="replace"))
        try:
            summary = json.loads(resp.headers.get("X-ClickHouse-Summary", "{}"))
        except ValueError:
            summary = {}
        return ReadResult(
            body,
            resp.headers.get("X-ClickHouse-Format", request.output_format),
            {k: str(v) for k, v in summary.items()},
            resp.headers.get("X-ClickHouse-Timezone", "UTC"),
        )

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.clear()
                self._pool = None


def open_store(settings: ClickHouseSettings, chdb_path: Path) -> ReadOnlyStore:
    """The store veille's settings name: the `CLICKHOUSE_URL` server, else chDB at
    `chdb_path` (this process must own that directory: chDB allows one process per directory).
    No I/O here."""
    if settings.url:
        return ServerStore(
            settings.url, settings.user, settings.password.get_secret_value(), settings.database
        )
    return ChdbStore(chdb_path, settings.database)
