"""Recent search over a time range, as stream payloads: gap fill and `veille backfill`.

`RecentSearch.posts(query, start, end, tag)` pages through `GET /2/tweets/search/recent`
(newest first, `next_token`), waiting on the clock until `x-rate-limit-reset` when rate
limited and backing off on server errors, and yields one stream-shaped payload per post
(`{"data", "includes", "matching_rules"}`, the includes trimmed to what the post references),
so posts from search and from the stream take the same path. X only searches up to 10 seconds
before now: `end` is clamped to that. X takes times to the second: the window is widened to
whole seconds.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import tweepy

from ingest.base import Source, SourceRecord
from ingest.x.backoff import Backoff
from ingest.x.clock import Clock
from veille.watch import Rule
from veille.xapi import POST_PARAMS, XApiError, XAuthError, XRateLimited, XUnavailable, call

logger = logging.getLogger(__name__)

SEARCH_LAG = timedelta(seconds=10)
SEARCH_WINDOW = timedelta(days=7)
"""How far back recent search reads; X refuses (400) a `start_time` before it."""
SEARCH_WINDOW_SLACK = timedelta(minutes=1)
"""Kept off the window's start, so that a request that waits a moment is still inside it."""
MAX_SERVER_RETRIES = 6


def searchable_since(now: datetime) -> datetime:
    """The earliest `start_time` recent search accepts at `now` (with a margin)."""
    return now - SEARCH_WINDOW + SEARCH_WINDOW_SLACK


def split_response(body: dict[str, Any], tag: str | None) -> list[bytes]:
    """One stream-shaped payload per post of a search answer."""
    users = {u["id"]: u for u in body.get("includes", {}).get("users", [])}
    tweets = {t["id"]: t for t in body.get("includes", {}).get("tweets", [])}
    rules = [{"id": None, "tag": tag}] if tag else []
    out = []
    for t in body.get("data", []):
        refs = [tweets[r["id"]] for r in t.get("referenced_tweets", []) if r["id"] in tweets]
        user_ids = {t.get("author_id"), t.get("in_reply_to_user_id")}
        user_ids |= {r.get("author_id") for r in refs}
        user_ids |= {m.get("id") for m in t.get("entities", {}).get("mentions", [])}
        includes = {"users": [users[u] for u in user_ids if u in users], "tweets": refs}
        out.append(
            json.dumps(
                {"data": t, "includes": includes, "matching_rules": rules}, ensure_ascii=False
            ).encode()
        )
    return out


class RecentSearch:
    """Pages through recent search; see the module docstring."""

    def __init__(
        self, client: tweepy.Client, clock: Clock | None = None, max_results: int = 100
    ) -> None:
        self.client = client
        self.clock = clock or Clock()
        self.max_results = max_results
        self.requests = 0
        self.rate_limited = 0

    def posts(
        self, query: str, start: datetime, end: datetime | None = None, tag: str | None = None
    ) -> Iterator[bytes]:
        """Payloads of the posts matching `query` created in [start, end), `start` clamped to
        what recent search covers (`searchable_since`).

        Raises `XAuthError` (the token is refused) or `XApiError` (X refuses the query, or
        keeps failing); stops quietly when the clock is interrupted.
        """
        now = self.clock.now()
        latest = now - SEARCH_LAG
        end = min(end or latest, latest)
        start = max(start, searchable_since(now))  # older posts cannot be searched
        # X takes times to the second: widen the window to whole seconds so that nothing at
        # its edges is cut off (the start is inclusive, the end exclusive)
        start = start.replace(microsecond=0)
        if end.microsecond:
            end = min(
                end.replace(microsecond=0) + timedelta(seconds=1), latest.replace(microsecond=0)
            )
        if end <= start:
            return
        token: str | None = None
        backoff = Backoff()
        while not self.clock.interrupted:
            params: dict[str, Any] = {
                "start_time": start,
                "end_time": end,
                "max_results": self.max_results,
                **POST_PARAMS,
            }
            if token:
                params["next_token"] = token
            try:
                self.requests += 1
                body = call(
                    self.client.search_recent_tweets, "searching recent posts", query, **params
                )
            except XRateLimited as e:
                self.rate_limited += 1
                wait = (e.reset_at - self.clock.now().timestamp() + 1) if e.reset_at else 60.0
                logger.warning("search rate limited; waiting %.0fs", max(wait, 1.0))
                if self.clock.sleep(max(wait, 1.0)):
                    return
                continue
            except XUnavailable as e:
                wait = backoff.next("http")
                if backoff.http_s >= 5.0 * 2 ** (MAX_SERVER_RETRIES - 1):
                    raise XApiError(f"recent search keeps failing: {e}") from None
                logger.warning("search failed (%s); retrying in %.0fs", e, wait)
                if self.clock.sleep(wait):
                    return
                continue
            except XAuthError:
                raise
            yield from split_response(body, tag)
            token = body.get("meta", {}).get("next_token")
            if not token:
                return


class BackfillSource(Source):
    """Recent search for every watch rule over [since, until): `veille backfill --since 2h`."""

    name = "x"

    def __init__(
        self,
        search: Callable[[], RecentSearch],
        rules: list[Rule],
        since: datetime,
        until: datetime | None = None,
    ) -> None:
        super().__init__()
        self._make_search = search
        self.rules = rules
        self.since = since
        self.until = until
        self.search: RecentSearch | None = None

    def start(self) -> None:
        self.search = self._make_search()

    def stop(self) -> None:
        super().stop()
        if self.search is not None:
            self.search.clock.interrupt()

    def records(self) -> Iterator[SourceRecord]:
        assert self.search is not None, "start() first"
        for rule in self.rules:
            for payload in self.search.posts(rule.value, self.since, self.until, tag=rule.tag):
                if self.stopping:
                    return
                yield SourceRecord(payload, "x:backfill")

    def metrics(self) -> dict[str, Any]:
        if self.search is None:
            return {}
        return {
            "search_requests": self.search.requests,
            "search_rate_limited": self.search.rate_limited,
        }
