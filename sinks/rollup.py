"""The `mentions_1m` rollup kept equal to `posts FINAL`, whatever the copies of a post.

The materialized view adds every inserted post to the rollup row of its minute, entries,
topics, language and sentiment, as a bitmap of ids: a second copy that agrees on all of these
changes nothing. A copy that differs (a gap-fill copy carries the one rule tag its search
matched, so other entries; a post enriched again after the watch file or the sentiment backend
changed) lands in other rows, and the post would be counted under its old and its new labels,
while `posts` keeps only the last copy. So the sink, for each batch of posts:

1. before the insert, reads the stored copies of the batch's posts and marks each minute where
   a copy differs in what the rollup counts (`changed_minutes`, `mark`): the mark is a row of
   `rollup_rebuilds`, so a crash after the insert leaves it for the next start;
2. after the insert, rebuilds every pending minute (`rebuild_pending`): its rollup rows are
   deleted and computed again from `posts FINAL` (the view `mentions_1m_source`), and the mark
   is cleared.

Between the delete and the insert of a rebuild a query sees that minute empty (milliseconds).
Two rebuilds of one minute at once are harmless: bitmaps and `uniq` states merge idempotently.
X compliance rebuilds the minutes of the posts it removes the same way (`rebuild`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from clickhouse_connect.driver.client import Client

from sinks.cluster import local_name
from sinks.rows import POST_COLUMNS

logger = logging.getLogger(__name__)

_AT = {name: i for i, name in enumerate(POST_COLUMNS)}

# What the rollup counts of a post, besides its id (see migration 0003).
_STORED = (
    "SELECT id, toUnixTimestamp(toStartOfMinute(created_at)), lang, sentiment, entries, "
    "entry_kinds, topics, author_id FROM posts "
    "WHERE created_at >= {lo:DateTime64(3)} AND created_at <= {hi:DateTime64(3)} "
    "AND id IN {ids:Array(UInt64)}"
)

Counted = tuple[int, str, str, frozenset[tuple[str, str]], frozenset[str], int]


def _counted(
    minute: int,
    lang: str,
    sentiment: str,
    entries: Iterable[str],
    kinds: Iterable[str],
    topics: Iterable[str],
    author_id: int,
) -> Counted:
    return (
        minute,
        lang,
        sentiment,
        frozenset(zip(entries, kinds, strict=False)),
        frozenset(topics),
        int(author_id),
    )


def _minute(at: datetime) -> int:
    """Seconds since the epoch of the start of `at`'s minute (a naive datetime is UTC)."""
    when = at if at.tzinfo else at.replace(tzinfo=UTC)
    return int(when.timestamp()) // 60 * 60


def _row_counted(row: Sequence[Any]) -> Counted:
    return _counted(
        _minute(row[_AT["created_at"]]),
        row[_AT["lang"]],
        row[_AT["sentiment"]],
        row[_AT["entries"]],
        row[_AT["entry_kinds"]],
        row[_AT["topics"]],
        row[_AT["author_id"]],
    )


def changed_minutes(client: Client, post_rows: Sequence[Sequence[Any]]) -> set[int]:
    """Minutes (epoch seconds) whose rollup rows `post_rows` (in `POST_COLUMNS` order) would make
    wrong: where a post of the batch has a stored copy, or another copy in the batch, that
    differs in what the rollup counts. Both copies' minutes are returned."""
    if not post_rows:
        return set()
    batch: dict[int, Counted] = {}
    out: set[int] = set()
    for row in post_rows:
        key = _row_counted(row)
        seen = batch.setdefault(int(row[_AT["id"]]), key)
        if seen != key:
            out |= {seen[0], key[0]}
    created = [row[_AT["created_at"]] for row in post_rows]
    stored = client.query(
        _STORED, parameters={"lo": min(created), "hi": max(created), "ids": sorted(batch)}
    ).result_rows
    for post_id, minute, lang, sentiment, entries, kinds, topics, author_id in stored:
        new = batch[int(post_id)]
        if _counted(minute, lang, sentiment, entries, kinds, topics, author_id) != new:
            out |= {int(minute), new[0]}
    return out


def _datetimes(minutes: Iterable[int]) -> list[datetime]:
    return [datetime.fromtimestamp(m, UTC) for m in sorted(minutes)]


def mark(client: Client, minutes: Iterable[int]) -> None:
    """Record `minutes` as pending a rebuild (before the insert that makes them wrong)."""
    now = datetime.now(UTC)
    client.insert(
        "rollup_rebuilds",
        [[m, 1, now] for m in _datetimes(minutes)],
        column_names=["minute", "pending", "at"],
    )


def rebuild_statements(
    minutes: Sequence[datetime], cluster: str | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """The DELETE of `minutes`' rollup rows and the INSERT that computes them again.

    On a cluster the DELETE is DDL sent to every server's local table, written with literal
    values (datetimes read from ClickHouse or computed here, never text from outside); the
    INSERT goes through the Distributed rollup, whose queries merge it with the other shards'.
    """
    bound = {"m": list(minutes)}
    where = "WHERE minute IN {m:Array(DateTime)}"
    rebuild = (f"INSERT INTO mentions_1m SELECT * FROM mentions_1m_source {where}", bound)
    if not cluster:
        return [(f"DELETE FROM mentions_1m {where}", bound), rebuild]
    listed = ", ".join(f"toDateTime({_minute(m)})" for m in minutes)
    table = f"{local_name('mentions_1m')} ON CLUSTER `{cluster}`"
    return [(f"DELETE FROM {table} WHERE minute IN ({listed})", {}), rebuild]


def rebuild(client: Client, minutes: Sequence[datetime], cluster: str | None = None) -> None:
    """Compute `minutes` of the rollup again from `posts FINAL`."""
    if minutes:
        for sql, parameters in rebuild_statements(minutes, cluster):
            client.command(sql, parameters=parameters or None)


def rebuild_pending(client: Client, cluster: str | None = None) -> int:
    """Rebuild every minute marked pending and clear the marks; returns the minutes rebuilt.

    A minute marked again while this ran keeps its mark (the later `at` wins)."""
    started = datetime.now(UTC)
    minutes = [
        r[0]
        for r in client.query(
            "SELECT minute FROM rollup_rebuilds FINAL WHERE pending ORDER BY minute"
        ).result_rows
    ]
    if not minutes:
        return 0
    rebuild(client, minutes, cluster)
    client.insert(
        "rollup_rebuilds",
        [[m, 0, started] for m in minutes],
        column_names=["minute", "pending", "at"],
    )
    logger.info("rollup minutes rebuilt=%d first=%s last=%s", len(minutes), minutes[0], minutes[-1])
    return len(minutes)
