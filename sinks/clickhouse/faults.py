"""Fault injection for the sink's ClickHouse client: how `veille bench chaos` and the fault tests
make ClickHouse refuse calls under a running pipeline. Off unless `VEILLE_SINK_FAULT_CONTROL`
names a folder; never set in use.

`FaultyClient` delegates to the real clickhouse-connect client unless files in the control
folder say otherwise:

- `down`: while it exists, every call raises clickhouse-connect's `OperationalError`, as when
  the server is unreachable. If `down` contains `ambiguous`, ClickHouse goes away during the
  next insert: the calls before it still pass, and that insert is carried out before raising
  (it reached ClickHouse but its answer was lost).
- `hold`: after each insert into `posts`, sleep that many seconds (seconds in the file) before
  returning, so a test can kill the sink after an insert and before its offsets are committed.

Every insert is logged to `inserts.log` in the folder: `<monotonic time> ok|refused <table>
<rows>`, and every other call refused, as `<monotonic time> refused query 0`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from clickhouse_connect.driver.exceptions import OperationalError

REFUSED = "Error HTTPConnectionPool: Connection refused (fault injected)"


class FaultyClient:
    """A clickhouse-connect client that fails as the control folder says (module docstring)."""

    def __init__(self, client: Any, control: Path) -> None:
        self._client = client
        self._control = control
        self._ambiguous_done = False
        control.mkdir(parents=True, exist_ok=True)

    def _log(self, outcome: str, table: str, rows: int) -> None:
        with (self._control / "inserts.log").open("a") as fh:
            fh.write(f"{time.monotonic():.3f} {outcome} {table} {rows}\n")

    def _down(self) -> str | None:
        try:
            down = (self._control / "down").read_text()
        except FileNotFoundError:
            self._ambiguous_done = False  # the next outage may be ambiguous again
            return None
        return down

    def insert(self, table: str, data: Any, *args: Any, **kwargs: Any) -> Any:
        down = self._down()
        if down is not None:
            if "ambiguous" in down and not self._ambiguous_done:
                self._ambiguous_done = True
                self._client.insert(table, data, *args, **kwargs)
            self._log("refused", table, len(data))
            raise OperationalError(REFUSED)
        result = self._client.insert(table, data, *args, **kwargs)
        self._log("ok", table, len(data))
        hold = self._control / "hold"
        if table == "posts" and hold.exists():
            time.sleep(float(hold.read_text() or 0))
        return result

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        down = self._down()
        if callable(attr) and name in ("command", "query") and down is not None:
            if "ambiguous" in down and not self._ambiguous_done:
                return attr  # ClickHouse goes away during the next insert
            self._log("refused", "query", 0)
            raise OperationalError(REFUSED)
        return attr
