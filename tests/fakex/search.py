"""Recent search: `GET /2/tweets/search/recent`, newest first, `next_token` pages, rate limited.

No search operators: `query` must be non-empty, every post of the time and id bounds matches.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from fakex.state import FakeXState, Post
from fakex.transport import Reply, Request
from fakex.wire import invalid_request, page_token, page_token_id, parse_time, problem


class SearchEndpoints(FakeXState):
    """The recent-search endpoint and its rate-limit window."""

    def _search(self, req: Request, _: re.Match[str]) -> Reply:
        with self._cond:
            self._search_queries.append(dict(req.query))
            allowed, headers = self._take_search_quota()
            if not allowed:
                return Reply(429, problem(429), headers)
            try:
                posts, size = self._search_hits(req.query)
            except ValueError as e:
                return Reply(400, e.args[0], headers)
            page = posts[:size]
            body = self._shape(page, req.query) if page else {}
            meta: dict[str, Any] = {"result_count": len(page)}
            if page:
                meta |= {"newest_id": str(page[0].id), "oldest_id": str(page[-1].id)}
            if len(posts) > size:
                meta["next_token"] = page_token(page[-1].id)
            return Reply(200, body | {"meta": meta}, headers)

    def _search_hits(self, q: Mapping[str, str]) -> tuple[list[Post], int]:
        """Matching posts newest first, and the page size; ValueError(problem body) if invalid."""
        if not q.get("query"):
            raise ValueError(invalid_request("The `query` query parameter can not be empty"))
        size = q.get("max_results", "10")
        if not size.isdigit() or not 10 <= int(size) <= 100:
            message = f"The `max_results` query parameter value [{size}] is not between 10 and 100"
            raise ValueError(invalid_request(message, max_results=[size]))
        bounds: dict[str, datetime] = {}
        for name in ("start_time", "end_time"):
            if name in q:
                try:
                    bounds[name] = parse_time(q[name])
                except ValueError:
                    message = f"Invalid '{name}':'{q[name]}'. '{name}' must be RFC 3339"
                    raise ValueError(invalid_request(message, **{name: [q[name]]})) from None
        token = q.get("next_token") or q.get("pagination_token")
        try:
            below = page_token_id(token) if token else None
        except ValueError:
            bad = invalid_request("Invalid next_token", next_token=[token or ""])
            raise ValueError(bad) from None
        for name in ("since_id", "until_id"):
            if not q.get(name, "1").isdigit():
                raise ValueError(invalid_request(f"Invalid '{name}'", **{name: [q[name]]}))
        now = self._clock()
        if "start_time" in bounds and bounds["start_time"] < now - timedelta(days=7):
            # X's answer to a start before what recent search covers
            message = (
                f"Invalid 'start_time':'{q['start_time']}'. 'start_time' must be on or after "
                f"{(now - timedelta(days=7)).strftime('%Y-%m-%dT%H:%MZ')}"
            )
            raise ValueError(invalid_request(message, start_time=[q["start_time"]]))
        start = bounds.get("start_time", datetime.min.replace(tzinfo=UTC))
        end = bounds.get("end_time", now)
        since = int(q.get("since_id") or 0)
        until = int(q.get("until_id") or 2**63)
        hits = [
            p
            for p in reversed(self._timeline)
            if start <= p.created_at < end
            and since < p.id < until
            and (below is None or p.id < below)
        ]
        return hits, int(size)

    def _take_search_quota(self) -> tuple[bool, dict[str, str]]:
        """Spend one request of the current window; the x-rate-limit headers to answer with."""
        now = time.monotonic()
        if self._window_start is None or now - self._window_start >= self._search_window_s:
            self._window_start, self._window_used = now, 0
        allowed = self._window_used < self._search_limit
        self._window_used += int(allowed)
        reset = math.ceil(time.time() + self._window_start + self._search_window_s - now)
        return allowed, {
            "x-rate-limit-limit": str(self._search_limit),
            "x-rate-limit-remaining": str(self._search_limit - self._window_used),
            "x-rate-limit-reset": str(reset),
        }
