"""The filtered stream (`GET /2/tweets/search/stream`), playing the script, and its kill switch.

At most one connection: another attempt, or any after a `StaleConnection` step until
`DELETE /2/connections/all`, gets X's 429 TooManyConnections. An admitted connection is pumped
by its handler thread: what to do next is decided under the lock (`_next_act`), the writing is
done outside it. Chunked, one JSON post per `\\r\\n` line, `\\r\\n` keep-alives while idle.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler
from typing import Literal

from fakex.script import (
    CONNECT_STEPS,
    Disconnect,
    Drop,
    HttpError,
    OperationalDisconnect,
    RateLimit,
    Send,
    StaleConnection,
    Stall,
)
from fakex.state import FakeXState, Post
from fakex.transport import POLL_S, Reply, Request, StreamConn, abort, write_chunk
from fakex.wire import OPERATIONAL_DISCONNECT, STREAM_RATE_LIMIT, TOO_MANY_CONNECTIONS, problem

logger = logging.getLogger(__name__)


@dataclass
class Act:
    """What a stream connection does next, decided under the lock, done outside it."""

    kind: Literal["post", "idle", "close", "disconnect", "operational", "stall"]
    index: int = -1
    line: bytes = b""
    from_send: bool = False
    seconds: float = 0.0


class StreamEndpoints(FakeXState):
    """The stream endpoints and the script they play."""

    def _stream(self, req: Request, _: re.Match[str]) -> Reply | None:
        admitted = self._admit(req)
        if isinstance(admitted, Reply):
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

    def _admit(self, req: Request) -> Reply | StreamConn:
        """Count the attempt, then refuse it (scripted error, too many connections) or admit it."""
        with self._cond:
            self._connect_count += 1
            self._last_stream_params = dict(req.query)
            live = [c for c in self._streams if not c.dead()]
            self._max_concurrent = max(self._max_concurrent, len(live) + 1)
            head = self._script[0] if self._script else None
            if live or self._stale:
                reply = Reply(429, TOO_MANY_CONNECTIONS)
            elif isinstance(head, CONNECT_STEPS):
                self._script.popleft()
                reply = self._refusal(head)
            else:
                conn = StreamConn(req.handler.connection)
                self._streams.add(conn)
                self._current = conn
                return conn
            self._stream_errors.append(reply.status)
            return reply

    def _refusal(self, step: HttpError | RateLimit | StaleConnection) -> Reply:
        if isinstance(step, HttpError):
            return Reply(step.status, problem(step.status))
        if isinstance(step, RateLimit):
            reset = math.ceil(time.time() + step.reset_in_s)
            headers = {"x-rate-limit-limit": str(STREAM_RATE_LIMIT)}
            headers |= {"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(reset)}
            return Reply(429, problem(429), headers)
        self._stale = True
        return Reply(429, TOO_MANY_CONNECTIONS)

    def _kill_connections(self, req: Request, _: re.Match[str]) -> Reply:
        with self._cond:
            for conn in self._streams:
                conn.kill()
            self._stale = False
            self._cond.notify_all()
        return Reply(200, {"data": {"killed_connections": True}})

    def _pump(self, h: BaseHTTPRequestHandler, conn: StreamConn, params: dict[str, str]) -> None:
        """Play the script on an admitted connection until it ends, dies or the server stops."""
        last_write = time.monotonic()
        while True:
            with self._cond:
                act = self._next_act(conn, params)
                if act.kind == "idle":
                    quiet = self._keepalive_s - (time.monotonic() - last_write)
                    if quiet > 0:
                        self._cond.wait(min(POLL_S, quiet))
                        continue
            if act.kind == "idle":
                write_chunk(h, b"\r\n")
            elif act.kind == "post":
                write_chunk(h, act.line)
                self._commit(conn, act)
            elif act.kind == "stall":
                self._stall(conn, act.seconds)
            elif act.kind == "operational":
                write_chunk(h, json.dumps(OPERATIONAL_DISCONNECT).encode() + b"\r\n")
                h.wfile.write(b"0\r\n\r\n")
                return
            else:  # close, disconnect
                if act.line:
                    write_chunk(h, act.line[: len(act.line) // 2])
                abort(h)
                return
            last_write = time.monotonic()

    def _next_act(self, conn: StreamConn, params: Mapping[str, str]) -> Act:
        """Decide the connection's next move and consume the script steps it starts (locked)."""
        if self._stopping or conn is not self._current or conn.dead():
            return Act("close")
        while self._script and isinstance(self._script[0], Drop):
            if self._cursor >= len(self._timeline):
                return Act("idle")
            self._dropped.append(str(self._timeline[self._cursor].id))
            self._cursor += 1
            self._count_down()
        step = self._script[0] if self._script else None
        has_post = self._cursor < len(self._timeline)
        if step is None or isinstance(step, Send):
            if not has_post:
                return Act("idle")
            line = self._line(self._timeline[self._cursor], params)
            return Act("post", self._cursor, line, from_send=step is not None)
        if isinstance(step, CONNECT_STEPS):
            return Act("idle")  # for the next connection attempt
        self._script.popleft()
        if isinstance(step, Stall):
            return Act("stall", seconds=step.seconds)
        if isinstance(step, OperationalDisconnect):
            return Act("operational")
        assert isinstance(step, Disconnect)
        torn = step.mid_post and has_post
        return Act(
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

    def _commit(self, conn: StreamConn, act: Act) -> None:
        with self._cond:
            if conn is not self._current or act.index != self._cursor:
                return
            self._delivered.append(str(self._timeline[act.index].id))
            self._count_usage([self._timeline[act.index]])
            self._cursor += 1
            if act.from_send and self._script and isinstance(self._script[0], Send):
                self._count_down()
            self._cond.notify_all()

    def _stall(self, conn: StreamConn, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        with self._cond:
            while (left := deadline - time.monotonic()) > 0:
                if self._stopping or conn is not self._current or conn.dead():
                    return
                self._cond.wait(min(POLL_S, left))

    def _line(self, post: Post, params: Mapping[str, str]) -> bytes:
        rules = [{"id": r["id"]} | ({"tag": r["tag"]} if "tag" in r else {}) for r in self._rules]
        payload = self._shape([post], params) | {"matching_rules": rules or post.own_rules}
        payload["data"] = payload["data"][0]
        return json.dumps(payload).encode() + b"\r\n"
