"""The fake's HTTP plumbing: requests and replies, the threaded server, chunked writes.

`Handler` turns each HTTP/1.1 request into a `Request` for `FakeX._dispatch` and writes the
`Reply` back; the stream endpoint writes its chunked body itself through `write_chunk`/`abort`.
"""

from __future__ import annotations

import json
import logging
import re
import select
import socket
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

if TYPE_CHECKING:
    from fakex.server import FakeX

logger = logging.getLogger(__name__)

POLL_S = 0.05
"""How often waiting threads look again (server shutdown, stalls, idle streams)."""


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: Message
    body: bytes
    handler: Handler

    def json(self) -> Any:
        return json.loads(self.body or b"null")


class StreamConn:
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


Endpoint = Callable[[Request, re.Match[str]], "Reply | None"]


def write_chunk(h: BaseHTTPRequestHandler, data: bytes) -> None:
    h.wfile.write(b"%X\r\n%s\r\n" % (len(data), data))


def abort(h: BaseHTTPRequestHandler) -> None:
    """Close the connection without ending the chunked body: the client sees a broken stream."""
    h.close_connection = True
    with suppress(OSError):
        h.connection.shutdown(socket.SHUT_RDWR)


class Server(ThreadingHTTPServer):
    """One thread per connection; `server_close()` joins them all (`block_on_close`)."""

    daemon_threads = True

    def __init__(self, fake: FakeX) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.fake = fake


class Handler(BaseHTTPRequestHandler):
    """Turns each HTTP/1.1 request into a `Request` for the server's `FakeX`."""

    protocol_version = "HTTP/1.1"
    server_version = "fakex"
    server: Server

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
        req = Request(self.command, url.path, dict(parse_qsl(url.query)), self.headers, body, self)
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
