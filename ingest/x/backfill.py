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
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import tweepy

from ingest.base import Source, SourceRecord
from ingest.x.backoff import Backoff
from ingest.x.clock import Clock
from veille.watch import Rule, WatchConfig, compile_rules, parse_rule_tag
from veille.xapi import POST_PARAMS, XApiError, XRateLimited, XUnavailable, call

logger = logging.getLogger(__name__)

SEARCH_LAG = timedelta(seconds=10)
SEARCH_WINDOW = timedelta(days=7)
"""How far back recent search reads; X refuses (400) a `start_time` before it."""
SEARCH_WINDOW_SLACK = timedelta(minutes=1)
"""Kept off the window's start, so that a request that waits a moment is still inside it."""
MAX_SERVER_RETRIES = 6


@dataclass(frozen=True, slots=True)
class CountAnswer:
    """What `GET /2/tweets/counts/recent` said: the total, and the count of each bucket."""

    total: int
    buckets: list[int]


def search_queries(rules: list[Rule], max_length: int) -> list[str]:
    """The rules as few recent-search queries as `max_length` allows: `(r1) OR (r2) OR ...`,
    packed in order (a rule alone needs no parentheses). Each rule must already fit (compile
    them with the search's `max_length`)."""
    queries: list[str] = []
    group: list[str] = []

    def render(values: list[str]) -> str:
        return values[0] if len(values) == 1 else " OR ".join(f"({v})" for v in values)

    for rule in rules:
        if len(rule.value) > max_length:
            raise ValueError(f"{rule.tag}: rule longer than {max_length} characters")
        if group and len(render([*group, rule.value])) > max_length:
            queries.append(render(group))
            group = []
        group.append(rule.value)
    if group:
        queries.append(render(group))
    return queries


def gap_fill_queries(watch: WatchConfig, max_length: int) -> list[str]:
    """The recent-search queries that fill a gap of the stream: the watch entries' rules,
    compiled to fit `max_length` and packed (`search_queries`). Sector rules are left out: they
    are samples of broad traffic (X's `sample:` works on the stream only) and a gap in a sample
    is not worth the posts a search of it would read."""
    rules = [
        r
        for r in compile_rules(watch, max_length=max_length)
        if (parse_rule_tag(r.tag) or ("", ""))[0] != "sector"
    ]
    return search_queries(rules, max_length)


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
        self.count_requests = 0
        self.rate_limited = 0
        self.posts_read = 0

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
        while True:
            params: dict[str, Any] = {
                "start_time": start,
                "end_time": end,
                "max_results": self.max_results,
                **POST_PARAMS,
            }
            if token:
                params["next_token"] = token
            self.requests += 1
            body = self._call(
                self.client.search_recent_tweets, "searching recent posts", query, **params
            )
            if body is None:
                return
            page = split_response(body, tag)
            self.posts_read += len(page)
            yield from page
            token = body.get("meta", {}).get("next_token")
            if not token:
                return

    def count(
        self, query: str, start: datetime, end: datetime, granularity: str = "hour"
    ) -> CountAnswer | None:
        """X's count of the posts matching `query` in [start, end) (`GET
        /2/tweets/counts/recent`: no post is read, none billed), with the buckets; None when
        the clock is interrupted. Raises like `posts()`."""
        self.count_requests += 1
        body = self._call(
            self.client.get_recent_tweets_count,
            "counting recent posts",
            query,
            start_time=start,
            end_time=end,
            granularity=granularity,
        )
        if body is None:
            return None
        buckets = [int(b.get("tweet_count", 0)) for b in body.get("data", [])]
        total = int(body.get("meta", {}).get("total_tweet_count", sum(buckets)))
        return CountAnswer(total, buckets)

    def _call(
        self, fn: Callable[..., dict[str, Any]], doing: str, *args: Any, **kwargs: Any
    ) -> dict[str, Any] | None:
        """One X call, waiting until `x-rate-limit-reset` when rate limited and backing off on
        server errors; None when the clock is interrupted. Raises `XAuthError`, or `XApiError`
        when X refuses the request or keeps failing."""
        backoff = Backoff()
        while not self.clock.interrupted:
            try:
                return call(fn, doing, *args, **kwargs)
            except XRateLimited as e:
                self.rate_limited += 1
                wait = (e.reset_at - self.clock.now().timestamp() + 1) if e.reset_at else 60.0
                logger.warning("%s: rate limited; waiting %.0fs", doing, max(wait, 1.0))
                if self.clock.sleep(max(wait, 1.0)):
                    return None
            except XUnavailable as e:
                wait = backoff.next("http")
                if backoff.http_s >= 5.0 * 2 ** (MAX_SERVER_RETRIES - 1):
                    raise XApiError(f"{doing}: X keeps failing: {e}") from None
                logger.warning("%s failed (%s); retrying in %.0fs", doing, e, wait)
                if self.clock.sleep(wait):
                    return None
        return None


class BackfillSource(Source):
    """Recent search for the watch entries over [since, until): `veille backfill --since 2h`,
    through the same packed queries as a gap fill (`gap_fill_queries`)."""

    name = "x"

    def __init__(
        self,
        search: Callable[[], RecentSearch],
        queries: list[str],
        since: datetime,
        until: datetime | None = None,
    ) -> None:
        super().__init__()
        self._make_search = search
        self.queries = queries
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
        for query in self.queries:
            for payload in self.search.posts(query, self.since, self.until):
                if self.stopping:
                    return
                yield SourceRecord(payload, "x:backfill")

    def metrics(self) -> dict[str, Any]:
        if self.search is None:
            return {}
        return {
            "search_queries": len(self.queries),
            "search_requests": self.search.requests,
            "search_rate_limited": self.search.rate_limited,
            "posts_read": self.search.posts_read,
        }
