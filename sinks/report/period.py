"""The report's period: a length (`7d`) ending at the newest stored post, in event time.

Ending at the newest post rather than at the wall clock makes a report of simulated or replayed
data read like one of live data. The period is computed once and handed to every query as
`start`/`end` parameters, so every section covers exactly the same minutes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sinks import queries
from sinks.base import SinkError

_SINCE = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
# Bucket sizes of the timeline, smallest first; the report uses the first giving <= 60 buckets.
_BUCKETS_S = (60, 300, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800)
MAX_BUCKETS = 60


class ReportError(SinkError):
    """A report that cannot be built as asked (a malformed `--since`)."""


def parse_since(text: str) -> timedelta:
    """`30m`, `12h`, `7d`, `2w` as a timedelta. Raises `ReportError` on anything else."""
    m = _SINCE.match(text)
    if not m or int(m.group(1)) == 0:
        raise ReportError(
            f"--since takes a positive number and a unit m, h, d or w (e.g. 7d), got {text!r}"
        )
    return timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})


def parse_time(value: Any) -> datetime:
    """A query's time value (ISO string or datetime) as an aware UTC datetime."""
    dt = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def ch_time(dt: datetime) -> str:
    """The form ClickHouse's `DateTime` parameters take (UTC, whole seconds)."""
    return dt.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


@dataclass(frozen=True)
class Period:
    """`[start, end)` in UTC; `newest` is the newest stored post (None when there is none)."""

    start: datetime
    end: datetime
    newest: datetime | None

    @property
    def length(self) -> timedelta:
        return self.end - self.start

    @property
    def params(self) -> dict[str, str]:
        return {"start": ch_time(self.start), "end": ch_time(self.end)}

    def previous(self) -> Period:
        """The period of the same length just before this one."""
        return Period(self.start - self.length, self.start, None)

    def bucket_s(self) -> int:
        """Timeline bucket size: the smallest of the usual sizes giving at most 60 buckets."""
        seconds = self.length.total_seconds()
        return next((b for b in _BUCKETS_S if seconds / b <= MAX_BUCKETS), _BUCKETS_S[-1])

    def describe(self) -> str:
        last = self.end - timedelta(seconds=1)
        return f"{self.start:%a %d %b %Y %H:%M} – {last:%a %d %b %Y %H:%M} UTC"


def newest_post(client: Any) -> datetime | None:
    """Event time of the newest stored post (through the `recent_posts` query), or None."""
    columns, rows = queries.run(client, "recent_posts", {"limit": "1"})
    if not rows:
        return None
    return parse_time(rows[0][columns.index("created_at")])


def period_ending_at_newest(client: Any, since: timedelta, now: datetime | None = None) -> Period:
    """The `since`-long period ending with the minute of the newest post (inclusive).

    With no stored post, the period ends at `now` (the wall clock by default).
    """
    newest = newest_post(client)
    anchor = newest if newest is not None else (now or datetime.now(UTC))
    end = anchor.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return Period(end - since, end, newest)
