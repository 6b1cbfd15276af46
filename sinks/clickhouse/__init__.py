"""ClickHouse, the store veille writes: the connection and the sink.

- `connection`: `connect()` (a ClickHouse server over HTTP, or chDB in process) and the
  translation of the vendor's errors into `SinkError` / `SinkUnavailable`.
- `sink`: `ClickHouseSink`, the batching writer behind the sink stage.
"""

from sinks.clickhouse.connection import connect, error_code, translate
from sinks.clickhouse.sink import ClickHouseSink

__all__ = ["ClickHouseSink", "connect", "error_code", "translate"]
