"""Recent search: `GET /2/tweets/search/recent`, newest first, `next_token` pages, rate limited.

The query is always checked (length, syntax: `fakex.query`); it selects the posts only when the
fake is built with `search_matches_query=True`, else every post of the time and id bounds matches.
Every post returned counts towards the usage (`fakex.usage`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from fakex.params import query_param, time_window
from fakex.state import FakeXState, Post
from fakex.transport import Reply, Request
from fakex.wire import BadRequest, invalid_request, page_token, page_token_id, problem


class SearchEndpoints(FakeXState):
    """The recent-search endpoint and its rate-limit window."""

    def _search(self, req: Request, _: re.Match[str]) -> Reply:
        with self._cond:
            self._search_queries.append(dict(req.query))
            self._search_results.append(0)
            allowed, headers = self._search_window.take()
            if not allowed:
                return Reply(429, problem(429), headers)
            try:
                posts, size = self._search_hits(req.query)
            except BadRequest as e:
                return Reply(400, e.body, headers)
            page = posts[:size]
            self._search_results[-1] = len(page)
            self._count_usage(page)
            body = self._shape(page, req.query) if page else {}
            meta: dict[str, Any] = {"result_count": len(page)}
            if page:
                meta |= {"newest_id": str(page[0].id), "oldest_id": str(page[-1].id)}
            if len(posts) > size:
                meta["next_token"] = page_token(page[-1].id)
            return Reply(200, body | {"meta": meta}, headers)

    def _search_hits(self, q: Mapping[str, str]) -> tuple[list[Post], int]:
        """Matching posts newest first, and the page size; BadRequest if the request is invalid."""
        query = query_param(q, self._query_max_length)
        size = q.get("max_results", "10")
        if not size.isdigit() or not 10 <= int(size) <= 100:
            message = f"The `max_results` query parameter value [{size}] is not between 10 and 100"
            raise BadRequest(invalid_request(message, max_results=[size]))
        start, end = time_window(q, self._clock())
        token = q.get("next_token") or q.get("pagination_token")
        try:
            below = page_token_id(token) if token else 2**63
        except ValueError:
            bad = invalid_request("Invalid next_token", next_token=[token or ""])
            raise BadRequest(bad) from None
        for name in ("since_id", "until_id"):
            if not q.get(name, "1").isdigit():
                raise BadRequest(invalid_request(f"Invalid '{name}'", **{name: [q[name]]}))
        since = int(q.get("since_id") or 0)
        until = min(int(q.get("until_id") or 2**63), below)
        hits = [
            p
            for p in reversed(self._timeline)
            if start <= p.created_at < end
            and since < p.id < until
            and (not self._search_matches_query or query.matches(p.target))
        ]
        return hits, int(size)
