"""`veille sink` whose ClickHouse client fails on request: the fault tests' stand-in for a
ClickHouse that goes away, or for a sink caught between an insert and its commit.

    python faulty_sink.py CONTROL_DIR sink [veille sink options]

Runs the real `veille sink` command (same runner, same writer, same chDB), except that the
client the writer connects with is wrapped. The test steers it with files in CONTROL_DIR:

- `down`: while it exists, every call raises clickhouse-connect's `OperationalError`, as when
  the server is unreachable. If `down` contains `ambiguous`, ClickHouse goes away during the
  next insert: the calls before it still pass, and that insert is carried out before raising
  (it reached ClickHouse but its answer was lost).
- `hold`: after each insert into `posts`, sleep that many seconds (seconds in the file) before
  returning, so a test can kill the sink after an insert and before its offsets are committed.

Every insert is logged to CONTROL_DIR/inserts.log: `<monotonic time> ok|refused <table> <rows>`,
and every other call refused, as `<monotonic time> refused query 0`.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from clickhouse_connect.driver.exceptions import OperationalError


class FaultyClient:
    """Delegates to a real clickhouse-connect client unless CONTROL_DIR says otherwise."""

    def __init__(self, client: Any, control: Path) -> None:
        self._client = client
        self._control = control
        self._ambiguous_done = False

    def _log(self, outcome: str, table: str, rows: int) -> None:
        with (self._control / "inserts.log").open("a") as fh:
            fh.write(f"{time.monotonic():.3f} {outcome} {table} {rows}\n")

    def _down(self) -> str | None:
        try:
            return (self._control / "down").read_text()
        except FileNotFoundError:
            return None

    def insert(self, table: str, data: Any, *args: Any, **kwargs: Any) -> Any:
        down = self._down()
        if down is not None:
            if "ambiguous" in down and not self._ambiguous_done:
                self._ambiguous_done = True
                self._client.insert(table, data, *args, **kwargs)
            self._log("refused", table, len(data))
            raise OperationalError("Error HTTPConnectionPool: Connection refused (fault injected)")
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
            raise OperationalError("Error HTTPConnectionPool: Connection refused (fault injected)")
        return attr


def main() -> None:
    control = Path(sys.argv[1])
    import sinks.clickhouse.sink as sink_module

    real_connect = sink_module.connect

    def connect(*args: Any, **kwargs: Any) -> Any:
        return FaultyClient(real_connect(*args, **kwargs), control)

    sink_module.connect = connect  # type: ignore[assignment]
    from pipeline.cli import main as veille_main

    sys.argv = ["veille", *sys.argv[2:]]
    veille_main()


if __name__ == "__main__":
    main()
