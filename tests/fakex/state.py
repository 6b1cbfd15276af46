"""What the fake X server holds, shared by its endpoints: timeline, rules, users, jobs, counters.

`FakeXState` is the base of every endpoint group (stream, rules, search, users, compliance) and
of `FakeX`; all its state is guarded by one condition, `_cond`.
"""

from __future__ import annotations

import copy
import itertools
import socket
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

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


@dataclass
class Job:
    id: str
    type: str
    name: str | None
    created_at: datetime
    ids: list[str] | None = None
    reads_after_upload: int = 0


class FakeXState:
    """The state of a fake X server and the helpers its endpoints share (all under `_cond`)."""

    def __init__(
        self,
        token: str = "test-token",
        *,
        script: Iterable[Step] = (),
        keepalive_s: float = 20.0,
        search_limit: int = 450,
        search_window_s: float = 900.0,
        compliance_polls: int = 1,
        project_fields: bool = True,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if keepalive_s <= 0 or search_limit < 0 or search_window_s <= 0 or compliance_polls < 0:
            raise ValueError("keepalive_s and search_window_s must be > 0, limits >= 0")
        self._token = token
        self._keepalive_s = keepalive_s
        self._search_limit = search_limit
        self._search_window_s = search_window_s
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
        self._window_start: float | None = None
        self._window_used = 0
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
