"""ClickHouse connections (a server over HTTP, or chDB in process) and error translation.

`connect()` returns a clickhouse-connect client whose current database is veille's, created if
missing. With no `CLICKHOUSE_URL` it opens chDB under the data directory: the same client API
and SQL, but one process per directory (a second process fails to lock it), so whatever reads
while a sink writes must go through the sink's process.

Vendor errors are translated here: `SinkUnavailable` for what may heal (network, overload,
too many parts), `SinkError` for what will not (authentication, unknown table, bad SQL).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import clickhouse_connect
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

from sinks.base import SinkError, SinkUnavailable
from veille.settings import ClickHouseSettings

logger = logging.getLogger(__name__)

# ClickHouse error codes worth retrying: overload, timeouts, network, read-only replicas.
_RETRYABLE = {159, 202, 203, 209, 210, 241, 242, 252, 285, 319, 425, 999, 1000}


def error_code(exc: BaseException) -> int | None:
    m = re.search(r"Code: (\d+)", str(exc))
    return int(m.group(1)) if m else None


def translate(exc: BaseException, doing: str) -> SinkError:
    """Our typed error for a clickhouse-connect exception raised while `doing` something."""
    if isinstance(exc, OperationalError):
        return SinkUnavailable(f"ClickHouse unreachable while {doing}: {exc}", retry_after=1.0)
    code = error_code(exc)
    if code == 252 and "partitions for single INSERT block" in str(exc):
        # same code as "too many parts" (which merges heal), but the block itself is at fault
        return SinkError(f"ClickHouse refused {doing}: {exc}")
    if isinstance(exc, DatabaseError) and code in _RETRYABLE:
        return SinkUnavailable(f"ClickHouse busy while {doing}: {exc}", retry_after=2.0)
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return SinkUnavailable(f"ClickHouse unreachable while {doing}: {exc}", retry_after=1.0)
    return SinkError(f"ClickHouse refused {doing}: {exc}")


def redact_url(url: str) -> str:
    """`url` without the password of its user part (`http://user:***@host:8123`)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def redact(text: str, settings: ClickHouseSettings) -> str:
    """`text` with every password of the settings (CLICKHOUSE_PASSWORD, the URL's) masked."""
    secrets = [settings.password.get_secret_value()]
    if settings.url:
        secrets.append(urlsplit(settings.url).password or "")
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def _extra(err: SinkError) -> dict[str, Any]:
    return {"retry_after": err.retry_after} if isinstance(err, SinkUnavailable) else {}


def connect(settings: ClickHouseSettings, data_dir: Path | None = None) -> Client:
    """A client on veille's database (created if missing). Raises `SinkError`/`SinkUnavailable`.

    `data_dir` is the chDB directory, used only when `settings.url` is unset.
    """
    db = settings.database
    try:
        if settings.url:
            base: dict[str, Any] = {
                "dsn": settings.url,
                "username": settings.user,
                "password": settings.password.get_secret_value(),
                "connect_timeout": settings.connect_timeout_s,
            }
            admin = clickhouse_connect.get_client(**base)
            try:
                admin.command(f"CREATE DATABASE IF NOT EXISTS `{db}`")
            except DatabaseError as e:
                # a read-only user (dashboards, queries, reports) may not create databases:
                # fine when it exists, and the next step says clearly when it does not
                if error_code(e) not in (164, 497):
                    raise
            finally:
                admin.close()
            return clickhouse_connect.get_client(**base, database=db)
        if data_dir is None:
            raise SinkError("no CLICKHOUSE_URL and no data directory for chDB")
        try:
            import chdb  # noqa: F401
        except ImportError:
            raise SinkError(
                "CLICKHOUSE_URL is not set and chDB is not installed: install veille[local]"
            ) from None
        data_dir.mkdir(parents=True, exist_ok=True)
        dsn = f"chdb://{data_dir.resolve()}"
        admin = clickhouse_connect.get_client(dsn=dsn)
        admin.command(f"CREATE DATABASE IF NOT EXISTS `{db}` ENGINE = Atomic")
        admin.close()
        return clickhouse_connect.get_client(dsn=dsn, database=db)
    except SinkError:
        raise
    except Exception as e:
        where = redact_url(settings.url) if settings.url else f"chdb:{data_dir}"
        err = translate(e, f"connecting to {where}")
        err = type(err)(redact(str(err), settings), **_extra(err))
        if "lock" in str(e).lower():
            err = SinkError(
                f"the chDB data directory {data_dir} is in use by another veille process "
                "(chDB allows one process per directory; query through that process, or stop it)"
            )
        raise err from None
