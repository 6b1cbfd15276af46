"""The ClickHouse sink: buffers records per table, inserts them in large chunks.

`flush()` inserts the buffer in chunks of at most `chunk_rows` rows (ClickHouse advises 10k to
100k rows per insert). A chunk that succeeded is not sent again when a later chunk fails and
the flush is retried; the buffer is cleared only once every chunk is in. Inserting the same post
twice is harmless (see migrations 0001 and 0003), so a retry after an ambiguous failure is safe.

A chunk ClickHouse refuses for good (not a failure that heals: a bad value, a block spanning too
many partitions) is split in halves and each half inserted, down to single rows: the rows it
refuses alone come back in `FlushResult.refused` with ClickHouse's reason, the rest is written.
Before, such a batch was retried for ever (or the sink exited and read it again on restart).

A batch holding a copy of a stored post that differs in what the `mentions_1m` rollup counts
marks the minutes involved before the insert and has them rebuilt after it (`sinks.rollup`),
so that every query over the rollup agrees with `posts FINAL`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from clickhouse_connect.driver.client import Client

from sinks import rollup, rows
from sinks.base import FlushResult, Record, Sink, SinkError, SinkUnavailable
from sinks.clickhouse.connection import connect, translate
from veille import records
from veille.settings import ClickHouseSettings

logger = logging.getLogger(__name__)


class _Table:
    def __init__(self, name: str, columns: tuple[str, ...], to_row: Callable[[Any], list[Any]]):
        self.name = name
        self.columns = columns
        self.to_row = to_row
        self.rows: list[list[Any]] = []
        self.records: list[Any] = []  # the record of each row, to say which one was refused
        self.done = 0  # rows of `rows` already inserted by an unfinished flush

    def clear(self) -> None:
        self.rows.clear()
        self.records.clear()
        self.done = 0


class ClickHouseSink(Sink):
    """Writes every kind of record to its table. `start()` connects and applies migrations."""

    def __init__(
        self,
        settings: ClickHouseSettings,
        data_dir: Path | None = None,
        chunk_rows: int = 10_000,
        client: Client | None = None,
    ) -> None:
        self.settings = settings
        self.data_dir = data_dir
        self.chunk_rows = chunk_rows
        self._client = client
        self._tables: dict[type, _Table] = {
            k.model: _Table(k.table, *rows.ROWS[k.table]) for k in records.STORED if k.table
        }
        self._posts = self._tables[records.kind("enriched").model]
        # rollup minutes may be pending a rebuild: left by a run that stopped after its insert
        self._rebuild_due = True

    @property
    def client(self) -> Client:
        if self._client is None:
            raise SinkError("ClickHouseSink.start() was not called")
        return self._client

    def start(self) -> None:
        if self._client is None:
            self._client = connect(self.settings, self.data_dir)
        # imported here: sinks.migrate imports this package's connection module, so a module-level
        # import would make a cycle whenever sinks.migrate is the first module a process loads
        from sinks.migrate import migrate

        for mg in migrate(self._client, self.settings.cluster):
            logger.info("migrated version=%04d name=%s", mg.version, mg.name)

    def add(self, record: Record) -> None:
        table = self._tables.get(type(record))
        if table is None:
            raise SinkError(f"{type(record).__name__} is not a stored record kind (veille.records)")
        table.rows.append(table.to_row(record))
        table.records.append(record)

    @property
    def pending(self) -> int:
        return sum(len(t.rows) for t in self._tables.values())

    def flush(self) -> FlushResult:
        started = time.perf_counter()
        result = FlushResult(rows={t.name: len(t.rows) for t in self._tables.values() if t.rows})
        self._drop_deleted(result)
        self._mark_changed()
        for table in self._tables.values():
            while table.done < len(table.rows):
                end = table.done + self.chunk_rows
                self._insert(table, table.done, min(end, len(table.rows)), result)
                table.done = min(end, len(table.rows))
        if self._rebuild_due:
            try:
                result.rollup_rebuilt = rollup.rebuild_pending(self.client, self.settings.cluster)
            except Exception as e:
                raise translate(e, "rebuilding rollup minutes") from None
            self._rebuild_due = False
        for table in self._tables.values():
            table.clear()
        result.elapsed_s = time.perf_counter() - started
        return result

    def _mark_changed(self) -> None:
        """Before the posts are inserted: mark the rollup minutes that copies differing from
        stored ones would make wrong (`sinks.rollup`); the marks outlive a crash."""
        table = self._posts
        if not table.rows or table.done:
            return
        try:
            minutes = rollup.changed_minutes(self.client, table.rows)
            if minutes:
                rollup.mark(self.client, minutes)
        except Exception as e:
            raise translate(e, "reading stored copies of the batch's posts") from None
        if minutes:
            logger.info("copies differing from stored ones: rollup minutes=%d", len(minutes))
            self._rebuild_due = True

    def _drop_deleted(self, result: FlushResult) -> None:
        """Leave out the posts X compliance removed (`deleted_posts`): a replayed or redelivered
        copy must not bring a deleted post back."""
        table = self._posts
        if not table.rows or table.done:
            return
        ids = sorted({int(r.id) for r in table.records})
        try:
            deleted = {
                str(row[0])
                for row in self.client.query(
                    "SELECT id FROM deleted_posts WHERE id IN {ids:Array(UInt64)}",
                    parameters={"ids": ids},
                ).result_rows
            }
        except Exception as e:
            error = translate(e, "reading deleted_posts")
            if isinstance(error, SinkUnavailable):  # ClickHouse away: the batch is retried
                raise error from None
            # were a copy inserted, the next compliance run (which checks every stored post)
            # removes it again
            logger.warning("could not read deleted_posts (%s); batch inserted unchecked", error)
            return
        if not deleted:
            return
        keep = [i for i, r in enumerate(table.records) if r.id not in deleted]
        dropped = len(table.records) - len(keep)
        table.rows = [table.rows[i] for i in keep]
        table.records = [table.records[i] for i in keep]
        result.rows[table.name] = len(keep)
        logger.info("left out %d copies of posts X compliance removed", dropped)

    def _insert(self, table: _Table, lo: int, hi: int, result: FlushResult) -> None:
        """Insert rows [lo, hi) of `table`; split what ClickHouse refuses for good (module
        docstring). Raises `SinkUnavailable` for what may heal."""
        chunk = table.rows[lo:hi]
        try:
            self.client.insert(table.name, chunk, column_names=table.columns)
            result.inserts += 1
            return
        except Exception as e:
            error = translate(e, f"inserting {len(chunk)} rows into {table.name}")
        if isinstance(error, SinkUnavailable):
            raise error from None
        if hi - lo == 1:
            logger.warning("ClickHouse refused a row of %s: %s", table.name, error)
            result.refused.append((table.records[lo], str(error)[:2000]))
            result.rows[table.name] -= 1
            return
        mid = (lo + hi) // 2
        self._insert(table, lo, mid, result)
        self._insert(table, mid, hi, result)

    def discard(self) -> None:
        for table in self._tables.values():
            table.clear()

    def count_posts(self) -> int:
        """Distinct posts stored (each post once, whatever merges have happened)."""
        return int(self.client.command("SELECT uniqExact(id) FROM posts"))  # type: ignore[arg-type]

    def count_dead_letters(self) -> int:
        return int(self.client.command("SELECT uniqExact(id) FROM dead_letters"))  # type: ignore[arg-type]

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
