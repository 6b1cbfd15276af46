"""A fake X API v2 server for tests: real wire format on 127.0.0.1, no internet.

`FakeX` serves, over plain HTTP/1.1 on a random free port, the endpoints veille's X client uses,
with X's own paths, JSON shapes, headers and error bodies:

* filtered-stream rules: `GET/POST /2/tweets/search/stream/rules` (add, delete, `dry_run`);
* the filtered stream: `GET /2/tweets/search/stream`, chunked, one JSON post per `\\r\\n` line,
  `\\r\\n` keep-alives while idle, at most one connection, `DELETE /2/connections/all`;
* recent search: `GET /2/tweets/search/recent`, newest first, `next_token` pages, rate limited;
* users: `GET /2/users/by?usernames=`;
* batch compliance: `POST /2/compliance/jobs`, `GET /2/compliance/jobs/:id`, and the job's
  upload/download URLs (absolute, served by this same server outside `/2`, no bearer needed:
  on real X they are pre-signed cloud-storage URLs on another host).

Every `/2` endpoint wants `Authorization: Bearer <token>`; anything else gets X's 401 problem.

The server holds one timeline of full post payloads (`{"data", "includes"}`, ids ascending).
What the stream does with it is driven by a *script* of steps (`Send`, `Drop`, `Disconnect`,
`HttpError`, `RateLimit`, `Stall`, `OperationalDisconnect`, `StaleConnection`) consumed in order
across connections; once the script is exhausted the stream sends the rest of the timeline, then
only keep-alives. Counters and logs (`delivered_ids`, `connect_count`, `rule_calls`, ...) let tests
assert what a client did; `wait_idle()` waits until the script and the timeline are used up.

Fields are projected as X does (unless `project_fields=False`): a post carries `id`, `text`,
`edit_history_tweet_ids` plus the requested `tweet.fields`; `includes.users` only with a user
expansion (`author_id`, ...), `includes.tweets` only with `referenced_tweets.id`; users carry
`id`, `name`, `username` plus the requested `user.fields`.

Limits: rules never filter (every post matches, `matching_rules` lists all current rules, or the
payload's own when there are none); no rule syntax check beyond length (1024) and duplicates; no
`backfill_minutes`, no 7-day or "10 s before now" checks on search times, no search operators;
only search is rate limited; HTTP only, no TLS; one process, state lost on `stop()`.
"""

from __future__ import annotations

import base64
import binascii
import copy
import itertools
import json
import logging
import math
import re
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.message import Message
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal, TypeVar
from urllib.parse import parse_qsl, urlsplit

logger = logging.getLogger(__name__)
_T = TypeVar("_T")

# --- the stream script ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Send:
    """Deliver the next `n` timeline posts on the stream (waiting for them to be added)."""

    n: int = 1

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError("Send(n) needs n >= 1")


@dataclass(frozen=True)
class Drop:
    """The next `n` posts are searchable but never delivered (X sent them while we were away)."""

    n: int = 1

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError("Drop(n) needs n >= 1")


@dataclass(frozen=True)
class Disconnect:
    """Close the stream abruptly; with `mid_post`, after half of the next post's line.

    The torn post is not delivered: the next connection starts with it. Without a post
    available, `mid_post` just closes.
    """

    mid_post: bool = False


@dataclass(frozen=True)
class HttpError:
    """Answer the next connection attempt with this status and X's problem JSON."""

    status: int = 503


@dataclass(frozen=True)
class RateLimit:
    """Answer the next connection attempt with 429 and `x-rate-limit-reset` in `reset_in_s`."""

    reset_in_s: float = 60.0


@dataclass(frozen=True)
class Stall:
    """Keep the connection open but send nothing, not even keep-alives, for `seconds`."""

    seconds: float


@dataclass(frozen=True)
class OperationalDisconnect:
    """Send X's operational-disconnect error line, then end the stream."""


@dataclass(frozen=True)
class StaleConnection:
    """From the next attempt on, 429 TooManyConnections until `DELETE /2/connections/all`."""


Step = (
    Send
    | Drop
    | Disconnect
    | HttpError
    | RateLimit
    | Stall
    | OperationalDisconnect
    | StaleConnection
)
_CONNECT_STEPS = (HttpError, RateLimit, StaleConnection)
"""Steps consumed by a connection attempt; a live stream that reaches one only keeps alive."""

ComplianceReason = Literal["deleted", "suspended", "protected", "deactivated", "scrub_geo"]


@dataclass(frozen=True)
class RuleCall:
    """One call to the rules endpoint, as received."""

    method: Literal["GET", "POST"]
    dry_run: bool
    body: Any
    status: int


# --- X's wire format -----------------------------------------------------------------------------

PROBLEMS = "https://api.twitter.com/2/problems/"
OPERATIONAL_DISCONNECT = {
    "errors": [
        {
            "title": "operational-disconnect",
            "disconnect_type": "OperationalDisconnect",
            "detail": "This stream has been disconnected for operational reasons.",
            "type": PROBLEMS + "operational-disconnect",
        }
    ]
}
TOO_MANY_CONNECTIONS = {
    "title": "ConnectionException",
    "detail": "This stream is currently at the maximum allowed connection limit.",
    "connection_issue": "TooManyConnections",
    "type": PROBLEMS + "streaming-connection",
}
MAX_RULE_LENGTH = 1024
STREAM_RATE_LIMIT = 50
"""X's limit on stream connections per 15 minutes, shown in a scripted 429's headers."""

_DEFAULT_TWEET_FIELDS = frozenset({"id", "text", "edit_history_tweet_ids"})
_DEFAULT_USER_FIELDS = frozenset({"id", "name", "username"})
_USER_EXPANSIONS = frozenset(
    {"author_id", "in_reply_to_user_id", "entities.mentions.username"}
    | {"referenced_tweets.id.author_id"}
)
_POLL_S = 0.05


def problem(status: int, detail: str | None = None, **extra: Any) -> dict[str, Any]:
    """X's RFC 7807 problem body for `status` (title and detail default to the reason phrase)."""
    phrase = HTTPStatus(status).phrase
    body = {"title": phrase, "type": "about:blank", "status": status, "detail": detail or phrase}
    return body | extra


def _invalid_request(message: str, **parameters: list[str]) -> dict[str, Any]:
    return {
        "errors": [{"parameters": parameters, "message": message}],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": PROBLEMS + "invalid-request",
    }


def iso(moment: datetime) -> str:
    """X's timestamp format: UTC, milliseconds, `Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("no time zone")
    return moment.astimezone(UTC)


def _csv(params: Mapping[str, str], name: str) -> set[str]:
    return {p for p in params.get(name, "").split(",") if p}


def _select(obj: Mapping[str, Any], keep: Iterable[str]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k in keep}


def x_user(
    user_id: str,
    username: str,
    *,
    followers: int = 0,
    following: int = 0,
    tweets: int = 0,
    listed: int = 0,
    likes: int = 0,
    name: str | None = None,
    verified: bool = False,
    verified_type: str = "none",
    description: str = "",
    created_at: datetime = datetime(2015, 3, 1, tzinfo=UTC),
) -> dict[str, Any]:
    """A full X API v2 user object, for `FakeX.set_users`."""
    return {
        "id": user_id,
        "username": username,
        "name": name if name is not None else username.title(),
        "created_at": iso(created_at),
        "verified": verified,
        "verified_type": verified_type,
        "description": description,
        "public_metrics": {
            "followers_count": followers,
            "following_count": following,
            "tweet_count": tweets,
            "listed_count": listed,
            "like_count": likes,
        },
    }


def _page_token(last_id: int) -> str:
    return base64.b32encode(f"fakex:{last_id}".encode()).decode().rstrip("=").lower()


def _page_token_id(token: str) -> int:
    """The id a `next_token` continues below; ValueError when it is not one of ours."""
    try:
        raw = base64.b32decode(token.upper() + "=" * (-len(token) % 8)).decode()
    except (binascii.Error, UnicodeDecodeError) as e:
        raise ValueError(token) from e
    prefix, _, number = raw.partition(":")
    if prefix != "fakex" or not number.isdigit():
        raise ValueError(token)
    return int(number)


# --- server internals ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Post:
    id: int
    created_at: datetime
    data: dict[str, Any]
    includes: dict[str, Any]
    own_rules: list[Any]


@dataclass
class _Job:
    id: str
    type: str
    name: str | None
    created_at: datetime
    ids: list[str] | None = None
    reads_after_upload: int = 0


@dataclass
class _Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"


@dataclass
class _Request:
    method: str
    path: str
    query: dict[str, str]
    headers: Message
    body: bytes
    handler: _Handler

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class _Act:
    """What a stream connection does next, decided under the lock, done outside it."""

    kind: Literal["post", "idle", "close", "disconnect", "operational", "stall"]
    index: int = -1
    line: bytes = b""
    from_send: bool = False
    seconds: float = 0.0


class _StreamConn:
    """One admitted stream connection; `dead()` once killed or once the client has closed."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.killed = False

    def kill(self) -> None:
        self.killed = True
        with suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)

    def dead(self) -> bool:
        if self.killed:
            return True
        try:
            readable, _, _ = select.select([self.sock], [], [], 0)
            # A stream client never sends after its request: readable means EOF or reset.
            return bool(readable) and self.sock.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True


_Endpoint = Callable[[_Request, re.Match[str]], "_Reply | None"]


def _write_chunk(h: BaseHTTPRequestHandler, data: bytes) -> None:
    h.wfile.write(b"%X\r\n%s\r\n" % (len(data), data))


def _abort(h: BaseHTTPRequestHandler) -> None:
    """Close the connection without ending the chunked body: the client sees a broken stream."""
    h.close_connection = True
    with suppress(OSError):
        h.connection.shutdown(socket.SHUT_RDWR)


class FakeX:
    """A fake X API v2 server on 127.0.0.1; see the module docstring for what it serves.

    Construct, then `start()` (or use as a context manager); `stop()` closes every connection
    and joins every thread, and is safe to call twice. All methods are thread-safe.
    """

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
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._sockets: set[socket.socket] = set()
        self._stopping = False
        # stream
        self._timeline: list[_Post] = []
        self._script: deque[Step] = deque(script)
        self._cursor = 0
        self._streams: set[_StreamConn] = set()
        self._current: _StreamConn | None = None
        self._stale = False
        # other endpoints
        self._rules: list[dict[str, str]] = []
        self._users: dict[str, dict[str, Any]] = {}
        self._jobs: dict[str, _Job] = {}
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

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> FakeX:
        """Listen on a random free port of 127.0.0.1 and serve from a background thread."""
        if self._server is not None:
            raise RuntimeError("FakeX already started")
        self._stopping = False
        server = self._server = _Server(self)
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": _POLL_S}, name="fakex"
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

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT`, without a trailing slash (the X API's `https://api.x.com`)."""
        if self._server is None:
            raise RuntimeError("FakeX not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- test setup -------------------------------------------------------------------------------

    def add_posts(self, payloads: Iterable[Mapping[str, Any]]) -> None:
        """Append X post payloads to the timeline; ids must keep ascending (ValueError if not).

        A payload's own `matching_rules` are used on the stream only while no rules are set.
        """
        with self._cond:
            for payload in payloads:
                data = payload["data"]
                post = _Post(
                    id=int(data["id"]),
                    created_at=_parse_time(data["created_at"]),
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

    def _read(self, value: Callable[[], _T]) -> _T:
        with self._cond:
            return copy.deepcopy(value())

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
    def user_lookups(self) -> list[list[str]]:
        """The usernames asked for by each `/2/users/by` request."""
        return self._read(lambda: self._user_lookups)

    @property
    def request_log(self) -> list[tuple[str, str]]:
        """`(method, path)` of every request, in arrival order."""
        return self._read(lambda: self._request_log)

    # -- dispatch ---------------------------------------------------------------------------------

    def _routes(self) -> Iterator[tuple[str, str, _Endpoint]]:
        yield "GET", "/2/tweets/search/stream", self._stream
        yield "GET", "/2/tweets/search/stream/rules", self._get_rules
        yield "POST", "/2/tweets/search/stream/rules", self._post_rules
        yield "DELETE", "/2/connections/all", self._kill_connections
        yield "GET", "/2/tweets/search/recent", self._search
        yield "GET", "/2/users/by", self._users_by
        yield "POST", "/2/compliance/jobs", self._create_job
        yield "GET", r"/2/compliance/jobs/(\d+)", self._job_status
        yield "PUT", r"/upload/(\d+)", self._upload
        yield "GET", r"/download/(\d+)", self._download

    def _dispatch(self, req: _Request) -> _Reply | None:
        """Route one request; None when the handler already wrote the whole answer (stream)."""
        with self._cond:
            self._request_log.append((req.method, req.path))
        try:
            reply = self._route(req)
        except Exception as e:  # a bug of the fake: answer visibly rather than drop the socket
            logger.exception("fake X failed method=%s path=%s", req.method, req.path)
            reply = _Reply(500, problem(500, f"fakex internal error: {e!r}"))
        with self._cond:
            if reply is not None and reply.status >= 400:
                self._errors_answered += 1
            self._cond.notify_all()
        return reply

    def _route(self, req: _Request) -> _Reply | None:
        for method, pattern, endpoint in self._routes():
            if (match := re.fullmatch(pattern, req.path)) and method == req.method:
                authorized = req.headers.get("Authorization") == f"Bearer {self._token}"
                if not (authorized or req.path.startswith(("/upload/", "/download/"))):
                    return self._unauthorized(req)
                return endpoint(req, match)
        return _Reply(404, problem(404, f"no route for {req.method} {req.path}"))

    def _unauthorized(self, req: _Request) -> _Reply:
        reply = _Reply(401, problem(401))
        if req.path == "/2/tweets/search/stream":
            with self._cond:
                self._connect_count += 1
                self._stream_errors.append(401)
        return reply

    # -- rules ------------------------------------------------------------------------------------

    def _get_rules(self, req: _Request, _: re.Match[str]) -> _Reply:
        wanted = _csv(req.query, "ids")
        with self._cond:
            rules = [r for r in self._rules if not wanted or r["id"] in wanted]
            body: dict[str, Any] = {
                "meta": {"sent": iso(self._clock()), "result_count": len(rules)}
            }
            if rules:
                body["data"] = copy.deepcopy(rules)
            self._rule_calls.append(RuleCall("GET", False, None, 200))
        return _Reply(200, body)

    def _post_rules(self, req: _Request, _: re.Match[str]) -> _Reply:
        dry_run = req.query.get("dry_run", "false").lower() in ("true", "1")
        try:
            body = req.json()
        except ValueError:
            body = None
        with self._cond:
            if isinstance(body, dict) and list(body) == ["add"] and isinstance(body["add"], list):
                reply = self._add_rules(body["add"], dry_run)
            elif isinstance(body, dict) and list(body) == ["delete"]:
                doomed = body["delete"] if isinstance(body["delete"], dict) else {}
                reply = self._delete_rules(doomed, dry_run)
            else:
                reply = _Reply(400, _invalid_request("Body must be one of {add: [...]}, {delete}"))
            self._rule_calls.append(RuleCall("POST", dry_run, body, reply.status))
        return reply

    def _add_rules(self, wanted: list[Any], dry_run: bool) -> _Reply:
        existing = {r["value"]: r["id"] for r in self._rules}
        created: list[dict[str, str]] = []
        errors: list[dict[str, Any]] = []
        for item in wanted:
            value = str(item.get("value", "")) if isinstance(item, dict) else ""
            if not value:
                return _Reply(400, _invalid_request("Each rule needs a non-empty value"))
            if value in existing:
                error = {"value": value, "id": existing[value], "title": "DuplicateRule"}
                errors.append(error | {"type": PROBLEMS + "duplicate-rules"})
            elif len(value) > MAX_RULE_LENGTH:
                error = {"value": value, "title": "RuleLengthExceeded"}
                errors.append(error | {"type": PROBLEMS + "invalid-rules"})
            else:
                rule = {"id": str(next(self._ids)), "value": value}
                if item.get("tag") is not None:
                    rule["tag"] = str(item["tag"])
                existing[value] = rule["id"]
                created.append(rule)
        if not dry_run:
            self._rules.extend(created)
        summary = {"created": len(created), "not_created": len(errors)}
        summary |= {"valid": len(created), "invalid": len(errors)}
        body: dict[str, Any] = {"meta": {"sent": iso(self._clock()), "summary": summary}}
        if created:
            body["data"] = copy.deepcopy(created)
        if errors:
            body["errors"] = errors
        return _Reply(200, body)

    def _delete_rules(self, wanted: Mapping[str, Any], dry_run: bool) -> _Reply:
        ids = {str(i) for i in wanted.get("ids", [])}
        values = {str(v) for v in wanted.get("values", [])}
        doomed = [r for r in self._rules if r["id"] in ids or r["value"] in values]
        found = {r["id"] for r in doomed} | {r["value"] for r in doomed}
        missing = sorted((ids | values) - found)
        if not dry_run:
            self._rules = [r for r in self._rules if r not in doomed]
        summary = {"deleted": len(doomed), "not_deleted": len(missing)}
        body: dict[str, Any] = {"meta": {"sent": iso(self._clock()), "summary": summary}}
        if missing:
            body["errors"] = [
                {
                    "value": m,
                    "details": ["Rule does not exist"],
                    "title": "Invalid Request",
                    "type": PROBLEMS + "invalid-request",
                }
                for m in missing
            ]
        return _Reply(200, body)

    # -- the stream -------------------------------------------------------------------------------

    def _stream(self, req: _Request, _: re.Match[str]) -> _Reply | None:
        admitted = self._admit(req)
        if isinstance(admitted, _Reply):
            return admitted
        h = req.handler
        try:
            h.send_response(200)
            h.send_header("Content-Type", "application/json")
            h.send_header("Transfer-Encoding", "chunked")
            h.end_headers()
            self._pump(h, admitted, req.query)
        except OSError as e:  # the client went away mid-write
            logger.debug("stream write failed error=%s", e)
        finally:
            h.close_connection = True
            with self._cond:
                self._streams.discard(admitted)
                if self._current is admitted:
                    self._current = None
                self._cond.notify_all()
        return None

    def _admit(self, req: _Request) -> _Reply | _StreamConn:
        """Count the attempt, then refuse it (scripted error, too many connections) or admit it."""
        with self._cond:
            self._connect_count += 1
            self._last_stream_params = dict(req.query)
            live = [c for c in self._streams if not c.dead()]
            self._max_concurrent = max(self._max_concurrent, len(live) + 1)
            head = self._script[0] if self._script else None
            if live or self._stale:
                reply = _Reply(429, TOO_MANY_CONNECTIONS)
            elif isinstance(head, _CONNECT_STEPS):
                self._script.popleft()
                reply = self._refusal(head)
            else:
                conn = _StreamConn(req.handler.connection)
                self._streams.add(conn)
                self._current = conn
                return conn
            self._stream_errors.append(reply.status)
            return reply

    def _refusal(self, step: HttpError | RateLimit | StaleConnection) -> _Reply:
        if isinstance(step, HttpError):
            return _Reply(step.status, problem(step.status))
        if isinstance(step, RateLimit):
            reset = math.ceil(time.time() + step.reset_in_s)
            headers = {"x-rate-limit-limit": str(STREAM_RATE_LIMIT)}
            headers |= {"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(reset)}
            return _Reply(429, problem(429), headers)
        self._stale = True
        return _Reply(429, TOO_MANY_CONNECTIONS)

    def _kill_connections(self, req: _Request, _: re.Match[str]) -> _Reply:
        with self._cond:
            for conn in self._streams:
                conn.kill()
            self._stale = False
            self._cond.notify_all()
        return _Reply(200, {"data": {"killed_connections": True}})

    def _pump(self, h: BaseHTTPRequestHandler, conn: _StreamConn, params: dict[str, str]) -> None:
        """Play the script on an admitted connection until it ends, dies or the server stops."""
        last_write = time.monotonic()
        while True:
            with self._cond:
                act = self._next_act(conn, params)
                if act.kind == "idle":
                    quiet = self._keepalive_s - (time.monotonic() - last_write)
                    if quiet > 0:
                        self._cond.wait(min(_POLL_S, quiet))
                        continue
            if act.kind == "idle":
                _write_chunk(h, b"\r\n")
            elif act.kind == "post":
                _write_chunk(h, act.line)
                self._commit(conn, act)
            elif act.kind == "stall":
                self._stall(conn, act.seconds)
            elif act.kind == "operational":
                _write_chunk(h, json.dumps(OPERATIONAL_DISCONNECT).encode() + b"\r\n")
                h.wfile.write(b"0\r\n\r\n")
                return
            else:  # close, disconnect
                if act.line:
                    _write_chunk(h, act.line[: len(act.line) // 2])
                _abort(h)
                return
            last_write = time.monotonic()

    def _next_act(self, conn: _StreamConn, params: Mapping[str, str]) -> _Act:
        """Decide the connection's next move and consume the script steps it starts (locked)."""
        if self._stopping or conn is not self._current or conn.dead():
            return _Act("close")
        while self._script and isinstance(self._script[0], Drop):
            if self._cursor >= len(self._timeline):
                return _Act("idle")
            self._dropped.append(str(self._timeline[self._cursor].id))
            self._cursor += 1
            self._count_down()
        step = self._script[0] if self._script else None
        has_post = self._cursor < len(self._timeline)
        if step is None or isinstance(step, Send):
            if not has_post:
                return _Act("idle")
            line = self._line(self._timeline[self._cursor], params)
            return _Act("post", self._cursor, line, from_send=step is not None)
        if isinstance(step, _CONNECT_STEPS):
            return _Act("idle")  # for the next connection attempt
        self._script.popleft()
        if isinstance(step, Stall):
            return _Act("stall", seconds=step.seconds)
        if isinstance(step, OperationalDisconnect):
            return _Act("operational")
        assert isinstance(step, Disconnect)
        torn = step.mid_post and has_post
        return _Act(
            "disconnect", line=self._line(self._timeline[self._cursor], params) if torn else b""
        )

    def _count_down(self) -> None:
        """One post done for the `Send`/`Drop` at the head of the script."""
        head = self._script[0]
        assert isinstance(head, Send | Drop)
        if head.n > 1:
            self._script[0] = replace(head, n=head.n - 1)
        else:
            self._script.popleft()

    def _commit(self, conn: _StreamConn, act: _Act) -> None:
        with self._cond:
            if conn is not self._current or act.index != self._cursor:
                return
            self._delivered.append(str(self._timeline[act.index].id))
            self._cursor += 1
            if act.from_send and self._script and isinstance(self._script[0], Send):
                self._count_down()
            self._cond.notify_all()

    def _stall(self, conn: _StreamConn, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        with self._cond:
            while (left := deadline - time.monotonic()) > 0:
                if self._stopping or conn is not self._current or conn.dead():
                    return
                self._cond.wait(min(_POLL_S, left))

    def _line(self, post: _Post, params: Mapping[str, str]) -> bytes:
        rules = [{"id": r["id"]} | ({"tag": r["tag"]} if "tag" in r else {}) for r in self._rules]
        payload = self._shape([post], params) | {"matching_rules": rules or post.own_rules}
        payload["data"] = payload["data"][0]
        return json.dumps(payload).encode() + b"\r\n"

    def _shape(self, posts: list[_Post], params: Mapping[str, str]) -> dict[str, Any]:
        """`{"data": [posts], "includes"?}` with X's field projection and merged includes."""
        tweet_fields = _DEFAULT_TWEET_FIELDS | _csv(params, "tweet.fields")
        user_fields = _DEFAULT_USER_FIELDS | _csv(params, "user.fields")
        expansions = _csv(params, "expansions")
        users: dict[str, dict[str, Any]] = {}
        tweets: dict[str, dict[str, Any]] = {}
        data = []
        for post in posts:
            data.append(_select(post.data, tweet_fields) if self._project else post.data)
            for user in post.includes.get("users", []):
                users.setdefault(user["id"], _select(user, user_fields) if self._project else user)
            for tweet in post.includes.get("tweets", []):
                tweets.setdefault(
                    tweet["id"], _select(tweet, tweet_fields) if self._project else tweet
                )
        includes: dict[str, Any] = {}
        if users and (expansions & _USER_EXPANSIONS or not self._project):
            includes["users"] = list(users.values())
        if tweets and ("referenced_tweets.id" in expansions or not self._project):
            includes["tweets"] = list(tweets.values())
        return copy.deepcopy({"data": data} | ({"includes": includes} if includes else {}))

    # -- recent search ----------------------------------------------------------------------------

    def _search(self, req: _Request, _: re.Match[str]) -> _Reply:
        with self._cond:
            self._search_queries.append(dict(req.query))
            allowed, headers = self._take_search_quota()
            if not allowed:
                return _Reply(429, problem(429), headers)
            try:
                posts, size = self._search_hits(req.query)
            except ValueError as e:
                return _Reply(400, e.args[0], headers)
            page = posts[:size]
            body = self._shape(page, req.query) if page else {}
            meta: dict[str, Any] = {"result_count": len(page)}
            if page:
                meta |= {"newest_id": str(page[0].id), "oldest_id": str(page[-1].id)}
            if len(posts) > size:
                meta["next_token"] = _page_token(page[-1].id)
            return _Reply(200, body | {"meta": meta}, headers)

    def _search_hits(self, q: Mapping[str, str]) -> tuple[list[_Post], int]:
        """Matching posts newest first, and the page size; ValueError(problem body) if invalid."""
        if not q.get("query"):
            raise ValueError(_invalid_request("The `query` query parameter can not be empty"))
        size = q.get("max_results", "10")
        if not size.isdigit() or not 10 <= int(size) <= 100:
            message = f"The `max_results` query parameter value [{size}] is not between 10 and 100"
            raise ValueError(_invalid_request(message, max_results=[size]))
        bounds: dict[str, datetime] = {}
        for name in ("start_time", "end_time"):
            if name in q:
                try:
                    bounds[name] = _parse_time(q[name])
                except ValueError:
                    message = f"Invalid '{name}':'{q[name]}'. '{name}' must be RFC 3339"
                    raise ValueError(_invalid_request(message, **{name: [q[name]]})) from None
        token = q.get("next_token") or q.get("pagination_token")
        try:
            below = _page_token_id(token) if token else None
        except ValueError:
            bad = _invalid_request("Invalid next_token", next_token=[token or ""])
            raise ValueError(bad) from None
        for name in ("since_id", "until_id"):
            if not q.get(name, "1").isdigit():
                raise ValueError(_invalid_request(f"Invalid '{name}'", **{name: [q[name]]}))
        start = bounds.get("start_time", datetime.min.replace(tzinfo=UTC))
        end = bounds.get("end_time", self._clock())
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

    # -- users ------------------------------------------------------------------------------------

    def _users_by(self, req: _Request, _: re.Match[str]) -> _Reply:
        names = [n for n in req.query.get("usernames", "").split(",") if n]
        if not names:
            return _Reply(400, _invalid_request("The `usernames` query parameter can not be empty"))
        keep = _DEFAULT_USER_FIELDS | _csv(req.query, "user.fields")
        with self._cond:
            self._user_lookups.append(names)
            found = [self._users[n.lower()] for n in names if n.lower() in self._users]
            data = copy.deepcopy([_select(u, keep) if self._project else u for u in found])
            missing = [n for n in names if n.lower() not in self._users]
        body: dict[str, Any] = {"data": data} if data else {}
        if missing:
            body["errors"] = [
                {
                    "value": n,
                    "detail": f"Could not find user with usernames: [{n}].",
                    "title": "Not Found Error",
                    "resource_type": "user",
                    "parameter": "usernames",
                    "resource_id": n,
                    "type": PROBLEMS + "resource-not-found",
                }
                for n in missing
            ]
        return _Reply(200, body)

    # -- batch compliance -------------------------------------------------------------------------

    def _create_job(self, req: _Request, _: re.Match[str]) -> _Reply:
        try:
            body = req.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or body.get("type") not in ("tweets", "users"):
            got = [str(body.get("type"))] if isinstance(body, dict) else []
            return _Reply(400, _invalid_request("`type` must be tweets or users", type=got))
        with self._cond:
            job = _Job(str(next(self._ids)), body["type"], body.get("name"), self._clock())
            self._jobs[job.id] = job
            return _Reply(200, {"data": self._job_json(job, "created")})

    def _job_status(self, req: _Request, match: re.Match[str]) -> _Reply:
        with self._cond:
            job = self._jobs.get(match[1])
            if job is None:
                return _Reply(404, problem(404, f"Could not find job with id: [{match[1]}]."))
            if job.ids is None:
                status = "created"
            elif job.reads_after_upload < self._compliance_polls:
                job.reads_after_upload += 1
                status = "in_progress"
            else:
                status = "complete"
            return _Reply(200, {"data": self._job_json(job, status)})

    def _job_json(self, job: _Job, status: str) -> dict[str, Any]:
        return {
            "id": job.id,
            "type": job.type,
            **({"name": job.name} if job.name is not None else {}),
            "status": status,
            "upload_url": f"{self.base_url}/upload/{job.id}",
            "download_url": f"{self.base_url}/download/{job.id}",
            "upload_expires_at": iso(job.created_at + timedelta(minutes=15)),
            "download_expires_at": iso(job.created_at + timedelta(days=7)),
            "created_at": iso(job.created_at),
            "resumable": False,
        }

    def _upload(self, req: _Request, match: re.Match[str]) -> _Reply:
        if not req.headers.get("Content-Type", "").startswith("text/plain"):
            return _Reply(
                403, b"SignatureDoesNotMatch: Content-Type must be text/plain", {}, "text/plain"
            )
        with self._cond:
            job = self._jobs.get(match[1])
            if job is None:
                return _Reply(404, b"NoSuchKey", {}, "text/plain")
            lines = req.body.decode("utf-8", "replace").splitlines()
            job.ids = [line.strip() for line in lines if line.strip()]
        return _Reply(200, b"", {}, "text/plain")

    def _download(self, req: _Request, match: re.Match[str]) -> _Reply:
        with self._cond:
            job = self._jobs.get(match[1])
            if job is None or job.ids is None or job.reads_after_upload < self._compliance_polls:
                return _Reply(404, b"NoSuchKey", {}, "text/plain")
            created = {str(p.id): p.created_at for p in self._timeline}
            redacted = self._clock()
            lines = [
                {
                    "id": post_id,
                    "action": "delete",
                    "created_at": iso(created.get(post_id, redacted)),
                    "redacted_at": iso(redacted),
                    "reason": self._deleted[post_id],
                }
                for post_id in job.ids
                if post_id in self._deleted
            ]
        return _Reply(200, b"".join(json.dumps(x).encode() + b"\n" for x in lines))


class _Server(ThreadingHTTPServer):
    """One thread per connection; `server_close()` joins them all (`block_on_close`)."""

    daemon_threads = True

    def __init__(self, fake: FakeX) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake


class _Handler(BaseHTTPRequestHandler):
    """Turns each HTTP/1.1 request into a `_Request` for the server's `FakeX`."""

    protocol_version = "HTTP/1.1"
    server_version = "fakex"
    server: _Server

    @property
    def fake(self) -> FakeX:
        return self.server.fake

    def setup(self) -> None:
        super().setup()
        with self.fake._cond:
            self.fake._sockets.add(self.connection)

    def finish(self) -> None:
        with self.fake._cond:
            self.fake._sockets.discard(self.connection)
        with suppress(OSError):
            super().finish()

    def _serve(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        req = _Request(self.command, url.path, dict(parse_qsl(url.query)), self.headers, body, self)
        reply = self.fake._dispatch(req)
        if reply is None:
            return
        if isinstance(reply.body, bytes):
            payload = reply.body
        else:
            payload = json.dumps(reply.body).encode()
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("fake X %s", format % args)
