"""Post counts: `GET /2/tweets/counts/recent`, the timeline's matching posts per time bucket.

Buckets are aligned on UTC minutes, hours or days (`granularity`, default `hour`); the first and
the last are cut at `start_time` and `end_time` (by default the last 7 days up to now). The query
is checked and selects posts as in recent search (`search_matches_query`). `FakeX.set_counts`
replaces the timeline by a steady volume a day, for tests that forecast from large counts.
One page always: no `next_token`, no `since_id`/`until_id`. Rate limited on its own window.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from fakex.params import query_param, time_window
from fakex.state import FakeXState
from fakex.transport import Reply, Request
from fakex.wire import BadRequest, invalid_request, iso, problem

GRANULARITY = {
    "minute": timedelta(minutes=1),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DAY_US = 86_400_000_000


class CountsEndpoints(FakeXState):
    """The recent-counts endpoint and its rate-limit window."""

    def _counts(self, req: Request, _: re.Match[str]) -> Reply:
        q = req.query
        with self._cond:
            self._counts_queries.append(dict(q))
            allowed, headers = self._counts_window.take()
            if not allowed:
                return Reply(429, problem(429), headers)
            try:
                query = query_param(q, self._query_max_length)
                start, end = time_window(q, self._clock())
                granularity = q.get("granularity", "hour")
                if granularity not in GRANULARITY:
                    message = (
                        f"The `granularity` query parameter value [{granularity}] is not one of "
                        f"[{','.join(GRANULARITY)}]"
                    )
                    raise BadRequest(invalid_request(message, granularity=[granularity]))
            except BadRequest as e:
                return Reply(400, e.body, headers)
            buckets = list(_buckets(start, end, GRANULARITY[granularity]))
            per_day = self._counts_volume.get(q["query"], self._counts_volume.get(None))
            if per_day is None:
                counts = [0] * len(buckets)
                starts = [a for a, _ in buckets]
                for post in self._timeline:
                    if start <= post.created_at < end and (
                        not self._search_matches_query or query.matches(post.target)
                    ):
                        counts[bisect.bisect_right(starts, post.created_at) - 1] += 1
            else:
                counts = [_steady(per_day, a, b) for a, b in buckets]
        data = [
            {"end": iso(b), "start": iso(a), "tweet_count": n}
            for (a, b), n in zip(buckets, counts, strict=True)
        ]
        return Reply(200, {"data": data, "meta": {"total_tweet_count": sum(counts)}}, headers)


Bucket = tuple[datetime, datetime]


def _buckets(start: datetime, end: datetime, step: timedelta) -> Iterator[Bucket]:
    """`[a, b)` windows covering `[start, end)`, edges on multiples of `step` since the epoch."""
    edge = _EPOCH + (start - _EPOCH) // step * step + step
    while start < end:
        yield start, min(edge, end)
        start, edge = edge, edge + step


def _steady(per_day: int, a: datetime, b: datetime) -> int:
    """Posts in `[a, b)` at a steady `per_day`, rounded so that adjacent windows add up."""

    def before(t: datetime) -> int:
        return per_day * ((t - _EPOCH) // timedelta(microseconds=1)) // _DAY_US

    return before(b) - before(a)
