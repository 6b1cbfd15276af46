"""What the fake X server holds, shared by its endpoints: timeline, rules, users, jobs, counters.

`FakeXState` is the base of every endpoint group (stream, rules, search, counts, users, usage,
compliance) and of `FakeX`; all its state is guarded by one condition, `_cond`.
"""

from __future__ import annotations

import copy
import itertools
import socket
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cached_property
from typing import Any, Literal, TypeVar

from fakex.limits import USAGE_LIMIT, RateWindow
from fakex.query import Target
from fakex.script import Step
from fakex.transport import Server, StreamConn
from fakex.wire import DEFAULT_TWEET_FIELDS, DEFAULT_USER_FIELDS, USER_EXPANSIONS, csv_param, pick

_T = TypeVar("_T")


ComplianceReason = Literal["deleted", "suspended", "protected", "deactivated", "scrub_geo"]


@dataclass(frozen=True)
class RuleCall:
    """One call to the rules endpoint, as received."""

    method: Literal["GET", "POST"]
    dry_run: bool
    body: Any
    status: int


@dataclass(frozen=True)
class Post:
    id: int
    created_at: datetime
    data: dict[str, Any]
    includes: dict[str, Any]
    own_rules: list[Any]

    @cached_property
    def target(self) -> Target:
        """What queries match this post against (computed once)."""
        return Target.of(self.id, self.data, self.includes)


@dataclass
class Fault:
    """Answer `status` to the next `times` requests whose path starts with `prefix`."""

    prefix: str
    status: int
    times: int
    headers: dict[str, str]


@dataclass
class Job:
    id: str
    type: str
    name: str | None
    created_at: datetime
    ids: list[str] | None = None
    reads_after_upload: int = 0


class FakeXState:
    """The state of a fake X server and the helpers its endpoints share (all under `_cond`).

    Settings (keyword-only after the bearer `token`): `script`, the stream's first steps;
    `keepalive_s`, the stream's idle interval; `search_limit` requests per `search_window_s`
    for recent search; `search_matches_query`, whether search and counts select posts by
    their query (else every post of the time window matches); `query_max_length`, X's query
    length of the access level (512 Basic, 1024 Pro, 4096 Enterprise); `counts_limit` post
    counts requests per 15 minutes; `project_cap` and `cap_reset_day` (1-28), what usage
    reports of the monthly cap; `compliance_polls`, status reads before a job completes;
    `project_fields`, X's field projection; `clock`, X's now. ValueError on a bad setting.
    """

    def __init__(
        self,
        token: str = "test-token",
        *,
        script: Iterable[Step] = (),
        keepalive_s: float = 20.0,
        search_limit: int = 450,
        search_window_s: float = 900.0,
        search_matches_query: bool = False,
        query_max_length: int = 512,
        counts_limit: int = 300,
        project_cap: int = 2_000_000,
        cap_reset_day: int = 1,
        compliance_polls: int = 1,
        project_fields: bool = True,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if keepalive_s <= 0 or compliance_polls < 0 or query_max_length < 1 or project_cap < 0:
            raise ValueError("keepalive_s, query_max_length must be > 0, counts and caps >= 0")
        if not 1 <= cap_reset_day <= 28:
            raise ValueError("cap_reset_day must be a day of the month, 1 to 28")
        self._token = token
        self._keepalive_s = keepalive_s
        self._search_window = RateWindow(search_limit, search_window_s)
        self._counts_window = RateWindow(counts_limit)
        self._usage_window = RateWindow(USAGE_LIMIT)
        self._search_matches_query = search_matches_query
        self._query_max_length = query_max_length
        self._project_cap = project_cap
        self._cap_reset_day = cap_reset_day
        self._compliance_polls = compliance_polls
        self._project = project_fields
        self._clock = clock or (lambda: datetime.now(UTC))
        self._cond = threading.Condition(threading.RLock())
        self._ids = itertools.count(1_800_000_000_000_000_001)
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._sockets: set[socket.socket] = set()
        self._stopping = False
        # stream
        self._timeline: list[Post] = []
        self._script: deque[Step] = deque(script)
        self._cursor = 0
        self._streams: set[StreamConn] = set()
        self._current: StreamConn | None = None
        self._stale = False
        # other endpoints
        self._rules: list[dict[str, str]] = []
        self._users: dict[str, dict[str, Any]] = {}
        self._jobs: dict[str, Job] = {}
        self._deleted: dict[str, str] = {}
        self._counts_volume: dict[str | None, int] = {}
        self._faults: list[Fault] = []
        self._usage_seen: dict[date, set[str]] = {}
        self._usage_base: dict[date, int] = {}
        # what the tests read
        self._delivered: list[str] = []
        self._dropped: list[str] = []
        self._connect_count = 0
        self._max_concurrent = 0
        self._stream_errors: list[int] = []
        self._errors_answered = 0
        self._last_stream_params: dict[str, str] = {}
        self._rule_calls: list[RuleCall] = []
        self._search_queries: list[dict[str, str]] = []
        self._search_results: list[int] = []
        self._counts_queries: list[dict[str, str]] = []
        self._user_lookups: list[list[str]] = []
        self._request_log: list[tuple[str, str]] = []

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT`, without a trailing slash (the X API's `https://api.x.com`)."""
        if self._server is None:
            raise RuntimeError("FakeX not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def _read(self, value: Callable[[], _T]) -> _T:
        with self._cond:
            return copy.deepcopy(value())

    def _count_usage(self, posts: Iterable[Post]) -> None:
        """Posts sent to the client: each distinct id counts once per UTC day, as X bills."""
        day = self._clock().astimezone(UTC).date()
        self._usage_seen.setdefault(day, set()).update(str(p.id) for p in posts)

    def _usage_on(self, day: date) -> int:
        return self._usage_base.get(day, 0) + len(self._usage_seen.get(day, ()))

    def _shape(self, posts: list[Post], params: Mapping[str, str]) -> dict[str, Any]:
        """`{"data": [posts], "includes"?}` with X's field projection and merged includes."""
        tweet_fields = DEFAULT_TWEET_FIELDS | csv_param(params, "tweet.fields")
        user_fields = DEFAULT_USER_FIELDS | csv_param(params, "user.fields")
        expansions = csv_param(params, "expansions")
        users: dict[str, dict[str, Any]] = {}
        tweets: dict[str, dict[str, Any]] = {}
        data = []
        for post in posts:
            data.append(pick(post.data, tweet_fields) if self._project else post.data)
            for user in post.includes.get("users", []):
                users.setdefault(user["id"], pick(user, user_fields) if self._project else user)
            for tweet in post.includes.get("tweets", []):
                tweets.setdefault(
                    tweet["id"], pick(tweet, tweet_fields) if self._project else tweet
                )
        includes: dict[str, Any] = {}
        if users and (expansions & USER_EXPANSIONS or not self._project):
            includes["users"] = list(users.values())
        if tweets and ("referenced_tweets.id" in expansions or not self._project):
            includes["tweets"] = list(tweets.values())
        return copy.deepcopy({"data": data} | ({"includes": includes} if includes else {}))
