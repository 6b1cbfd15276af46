"""`FakeX`, the fake X API v2 server: lifecycle, test setup, waiting and counters, routing.

It assembles the endpoint groups (stream, rules, search, counts, users, usage, compliance), each
a module of this package, over the shared state of `fakex.state`.
"""

from __future__ import annotations

import copy
import logging
import re
import socket
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import suppress
from datetime import date
from typing import Any

from fakex.compliance import ComplianceEndpoints
from fakex.counts import CountsEndpoints
from fakex.rules import RulesEndpoints
from fakex.script import Step
from fakex.search import SearchEndpoints
from fakex.state import ComplianceReason, Fault, Post, RuleCall
from fakex.stream import StreamEndpoints
from fakex.transport import POLL_S, Endpoint, Reply, Request, Server
from fakex.usage import UsageEndpoints
from fakex.users import UsersEndpoints
from fakex.wire import parse_time, problem

logger = logging.getLogger(__name__)


class FakeX(
    StreamEndpoints,
    RulesEndpoints,
    SearchEndpoints,
    CountsEndpoints,
    UsersEndpoints,
    UsageEndpoints,
    ComplianceEndpoints,
):
    """A fake X API v2 server on 127.0.0.1; see the `fakex` package docstring for what it serves.

    Construct (settings only, see `FakeXState`), then `start()` (or use as a context manager);
    `stop()` closes every connection and joins every thread, and is safe to call twice. All
    methods are thread-safe.
    """

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> FakeX:
        """Listen on a random free port of 127.0.0.1 and serve from a background thread."""
        if self._server is not None:
            raise RuntimeError("FakeX already started")
        self._stopping = False
        server = self._server = Server(self)
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": POLL_S}, name="fakex"
        )
        self._thread.start()
        logger.debug("fake X listening base_url=%s", self.base_url)
        return self

    def stop(self) -> None:
        """Close the stream and every open connection, stop serving, join all threads."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        server.shutdown()
        with self._cond:
            for sock in list(self._sockets):
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        server.server_close()  # joins the handler threads
        thread.join()
        self._server = self._thread = None

    def __enter__(self) -> FakeX:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- test setup -------------------------------------------------------------------------------

    def add_posts(self, payloads: Iterable[Mapping[str, Any]]) -> None:
        """Append X post payloads to the timeline; ids must keep ascending (ValueError if not).

        A payload's own `matching_rules` are used on the stream only while no rules are set.
        """
        with self._cond:
            for payload in payloads:
                data = payload["data"]
                post = Post(
                    id=int(data["id"]),
                    created_at=parse_time(data["created_at"]),
                    data={"edit_history_tweet_ids": [data["id"]]} | copy.deepcopy(dict(data)),
                    includes=copy.deepcopy(dict(payload.get("includes", {}))),
                    own_rules=copy.deepcopy(list(payload.get("matching_rules", []))),
                )
                if self._timeline and post.id <= self._timeline[-1].id:
                    raise ValueError(
                        f"post ids must ascend: {post.id} after {self._timeline[-1].id}"
                    )
                self._timeline.append(post)
            self._cond.notify_all()

    def add_steps(self, *steps: Step) -> None:
        """Append steps to the stream script."""
        with self._cond:
            self._script.extend(steps)
            self._cond.notify_all()

    def set_users(self, users: Mapping[str, Mapping[str, Any]]) -> None:
        """Replace the users known to `/2/users/by`: `{username: X user object}` (see `x_user`)."""
        with self._cond:
            self._users = {name.lower(): copy.deepcopy(dict(u)) for name, u in users.items()}

    def mark_deleted(self, reasons: Mapping[str, ComplianceReason]) -> None:
        """Post ids the compliance download reports, with the reason (`deleted`, ...)."""
        with self._cond:
            self._deleted.update(reasons)

    def set_counts(self, query: str | None, per_day: int) -> None:
        """Make post counts report a steady `per_day` posts a day instead of the timeline's.

        For `query` (the exact `query` parameter), or with None for every query that has no
        volume of its own. Buckets get their share of the day, rounded so that they add up.
        """
        if per_day < 0:
            raise ValueError("per_day must be >= 0")
        with self._cond:
            self._counts_volume[query] = per_day

    def set_usage(self, day: date, count: int) -> None:
        """Set the usage of a UTC day to `count`; posts sent that day afterwards add to it
        (an id already counted that day still counts once)."""
        with self._cond:
            self._usage_base[day] = count - len(self._usage_seen.get(day, ()))

    def fail_next(
        self,
        path_prefix: str,
        status: int,
        times: int = 1,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Answer `status` with X's problem body (and `headers`) to the next `times` requests
        whose path starts with `path_prefix` (`/2/users/by`, ...), after the bearer check.

        Faults are used in the order they were added; a failed request reaches no endpoint, so
        only `request_log` (and `stream_errors` for the stream) records it. For the stream,
        the script's `HttpError` and `RateLimit` steps do the same in sequence with the rest.
        """
        if times < 1:
            raise ValueError("times must be >= 1")
        with self._cond:
            self._faults.append(Fault(path_prefix, status, times, dict(headers or {})))

    # -- waiting and counters ---------------------------------------------------------------------

    def wait_until(self, predicate: Callable[[FakeX], bool], timeout: float = 5.0) -> None:
        """Wait until `predicate(self)` holds; TimeoutError after `timeout` seconds."""
        with self._cond:
            if not self._cond.wait_for(lambda: predicate(self), timeout):
                raise TimeoutError(f"fake X: condition not met after {timeout}s; {self._state()}")

    def wait_idle(self, timeout: float = 5.0) -> None:
        """Wait until the script is consumed and every post delivered or dropped.

        A step counts as consumed when it starts (a `Stall` when the silence begins).
        Raises TimeoutError, describing what is left, after `timeout` seconds.
        """
        self.wait_until(lambda fx: fx._idle(), timeout)

    def _idle(self) -> bool:
        return not self._script and self._cursor >= len(self._timeline)

    def _state(self) -> str:
        return (
            f"script={list(self._script)} cursor={self._cursor}/{len(self._timeline)} "
            f"delivered={len(self._delivered)} connects={self._connect_count}"
        )

    @property
    def delivered_ids(self) -> list[str]:
        """Ids of the posts written whole on the stream, in order (a re-delivery repeats)."""
        return self._read(lambda: self._delivered)

    @property
    def dropped_ids(self) -> list[str]:
        """Ids of the posts `Drop` steps skipped."""
        return self._read(lambda: self._dropped)

    @property
    def connect_count(self) -> int:
        """Stream connection attempts, refused ones included."""
        return self._read(lambda: self._connect_count)

    @property
    def max_concurrent_connections(self) -> int:
        """Most stream connections open at once, counting an attempt refused for that reason."""
        return self._read(lambda: self._max_concurrent)

    @property
    def stream_connected(self) -> bool:
        """Whether a stream connection is admitted and still open."""
        with self._cond:
            return self._current is not None and not self._current.dead()

    @property
    def stream_errors(self) -> list[int]:
        """The status of every refused stream connection attempt (401, 429, 503, ...)."""
        return self._read(lambda: self._stream_errors)

    @property
    def errors_answered(self) -> int:
        """Answers with a status >= 400, on any endpoint."""
        return self._read(lambda: self._errors_answered)

    @property
    def last_stream_params(self) -> dict[str, str]:
        """The query parameters of the latest stream connection attempt."""
        return self._read(lambda: self._last_stream_params)

    @property
    def rules(self) -> list[dict[str, str]]:
        """The current rules, `{"id", "value", "tag"?}`, oldest first."""
        return self._read(lambda: self._rules)

    @property
    def rule_calls(self) -> list[RuleCall]:
        return self._read(lambda: self._rule_calls)

    @property
    def search_queries(self) -> list[dict[str, str]]:
        """Query parameters of every recent-search request, rate-limited ones included."""
        return self._read(lambda: self._search_queries)

    @property
    def search_results(self) -> list[int]:
        """How many posts each recent-search request returned (0 when refused), in the order
        of `search_queries`."""
        return self._read(lambda: self._search_results)

    @property
    def search_posts_returned(self) -> int:
        """Posts returned by recent search, all requests together."""
        with self._cond:
            return sum(self._search_results)

    @property
    def counts_queries(self) -> list[dict[str, str]]:
        """Query parameters of every post-counts request, rate-limited ones included."""
        return self._read(lambda: self._counts_queries)

    @property
    def usage_by_day(self) -> dict[date, int]:
        """The usage the fake reports per UTC day: posts sent (distinct ids) or `set_usage`."""
        with self._cond:
            days = set(self._usage_seen) | set(self._usage_base)
            return {day: self._usage_on(day) for day in sorted(days)}

    @property
    def user_lookups(self) -> list[list[str]]:
        """The usernames asked for by each `/2/users/by` request."""
        return self._read(lambda: self._user_lookups)

    @property
    def request_log(self) -> list[tuple[str, str]]:
        """`(method, path)` of every request, in arrival order."""
        return self._read(lambda: self._request_log)

    # -- dispatch ---------------------------------------------------------------------------------

    def _routes(self) -> Iterator[tuple[str, str, Endpoint]]:
        yield "GET", "/2/tweets/search/stream", self._stream
        yield "GET", "/2/tweets/search/stream/rules", self._get_rules
        yield "POST", "/2/tweets/search/stream/rules", self._post_rules
        yield "DELETE", "/2/connections/all", self._kill_connections
        yield "GET", "/2/tweets/search/recent", self._search
        yield "GET", "/2/tweets/counts/recent", self._counts
        yield "GET", "/2/users/by", self._users_by
        yield "GET", "/2/usage/tweets", self._usage
        yield "POST", "/2/compliance/jobs", self._create_job
        yield "GET", r"/2/compliance/jobs/(\d+)", self._job_status
        yield "PUT", r"/upload/(\d+)", self._upload
        yield "GET", r"/download/(\d+)", self._download

    def _dispatch(self, req: Request) -> Reply | None:
        """Route one request; None when the handler already wrote the whole answer (stream)."""
        with self._cond:
            self._request_log.append((req.method, req.path))
        try:
            reply = self._route(req)
        except Exception as e:  # a bug of the fake: answer visibly rather than drop the socket
            logger.exception("fake X failed method=%s path=%s", req.method, req.path)
            reply = Reply(500, problem(500, f"fakex internal error: {e!r}"))
        with self._cond:
            if reply is not None and reply.status >= 400:
                self._errors_answered += 1
            self._cond.notify_all()
        return reply

    def _route(self, req: Request) -> Reply | None:
        for method, pattern, endpoint in self._routes():
            if (match := re.fullmatch(pattern, req.path)) and method == req.method:
                authorized = req.headers.get("Authorization") == f"Bearer {self._token}"
                if not (authorized or req.path.startswith(("/upload/", "/download/"))):
                    return self._refuse(req, 401, {})
                if fault := self._take_fault(req.path):
                    return self._refuse(req, fault.status, fault.headers)
                return endpoint(req, match)
        return Reply(404, problem(404, f"no route for {req.method} {req.path}"))

    def _take_fault(self, path: str) -> Fault | None:
        with self._cond:
            for fault in self._faults:
                if path.startswith(fault.prefix):
                    fault.times -= 1
                    if not fault.times:
                        self._faults.remove(fault)
                    return fault
        return None

    def _refuse(self, req: Request, status: int, headers: dict[str, str]) -> Reply:
        """X's problem for `status`; on the stream, counted as a refused connection attempt."""
        if req.path == "/2/tweets/search/stream":
            with self._cond:
                self._connect_count += 1
                self._stream_errors.append(status)
        return Reply(status, problem(status), dict(headers))
