"""The X API v2 filtered stream, kept connected by X's reconnection rules.

`FilteredStream` is tweepy's `StreamingClient` (its requests, its parameters, its rules
endpoints) with the connection loop replaced by one that follows X's guide to the letter and can
be observed and tested:

- at most one open connection: a 429 `TooManyConnections` (a stale connection X still holds)
  is cleared with `DELETE /2/connections/all`, then the stream reconnects after the 429
  schedule's wait (X's rule for every 429);
- a keep-alive arrives every 20 s, often a little late: silence longer than `stall_timeout_s`
  (30 s by default) is a stall, and the stream reconnects;
- a line longer than `MAX_LINE_BYTES` without its end is not a post X sends: the connection is
  dropped (and the gap fill reads what it missed) rather than the buffer grown without bound;
- backoff per `ingest.x.backoff` (network, HTTP, 429), waits on an injectable clock, a log line
  and a counter when a schedule reaches its maximum;
- operational-disconnect and other error payloads are logged and counted;
- only complete `\\r\\n`-terminated lines are posts: a line cut by a disconnect is counted and
  dropped (the gap fill after the reconnect reads the post again).

Callbacks: `on_post(line: bytes)` for each post line, `on_connected(reconnect: bool)` after
each successful connection. `stop()` ends the loop from any thread.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import requests
import tweepy
import urllib3

from ingest.x.backoff import Backoff, Kind
from ingest.x.clock import Clock
from veille.xapi import POST_PARAMS, TWEEPY_HOST, XAuthError

logger = logging.getLogger(__name__)

MAX_LINE_BYTES = 8 * 1024 * 1024
"""Longer than any post X sends with its includes (well under 1 MB)."""

_NETWORK_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    urllib3.exceptions.ProtocolError,
    urllib3.exceptions.ReadTimeoutError,
)


class FilteredStream(tweepy.StreamingClient):
    """tweepy's StreamingClient with X's reconnection rules; see the module docstring."""

    def __init__(
        self,
        bearer_token: str,
        *,
        clock: Clock | None = None,
        stall_timeout_s: float = 30.0,
        on_post: Callable[[bytes], None] = lambda line: None,
        on_connected: Callable[[bool], None] = lambda reconnect: None,
        **kwargs: Any,
    ) -> None:
        super().__init__(bearer_token, **kwargs)
        self.clock = clock or Clock()
        self.stall_timeout_s = stall_timeout_s
        self.on_post = on_post
        self.on_connected = on_connected
        self.backoff = Backoff()
        self.counters: Counter[str] = Counter()
        # what happened, in order: ("connected", 0.0) or (backoff kind, wait in seconds)
        self.history: list[tuple[str, float]] = []
        self._response: requests.Response | None = None
        self._lock = threading.Lock()

    # -- control --------------------------------------------------------------------------

    def run(self) -> None:
        """Connect and read until `stop()` (blocking). Raises `XAuthError` if X refuses the
        token: that cannot heal."""
        self.filter(**POST_PARAMS)

    def stop(self) -> None:
        """End the loop soon, from any thread (closes the open connection)."""
        self.running = False
        self.clock.interrupt()
        self.drop_connection()

    def drop_connection(self) -> None:
        """Close the current connection (the loop reconnects unless stopped)."""
        with self._lock:
            resp = self._response
        if resp is not None:
            try:
                resp.close()
            except Exception:
                pass

    # -- the loop -------------------------------------------------------------------------

    def _connect(self, method: str, endpoint: str, **kwargs: Any) -> None:
        url = f"{TWEEPY_HOST}/2/tweets/{endpoint}/stream"
        self.session.headers["Authorization"] = f"Bearer {self.bearer_token}"
        self.session.headers["User-Agent"] = self.user_agent
        params = kwargs.get("params")
        self.running = True
        connected_before = False
        try:
            while self.running:
                self.counters["connect_attempts"] += 1
                try:
                    resp = self.session.request(
                        method,
                        url,
                        params=params,
                        stream=True,
                        timeout=(10.0, self.stall_timeout_s),
                    )
                except _NETWORK_ERRORS as e:
                    self._failed("network", f"cannot connect: {type(e).__name__}")
                    continue
                with self._lock:
                    self._response = resp
                try:
                    if resp.status_code == 200:
                        self.counters["connections"] += 1
                        self.history.append(("connected", 0.0))
                        self.backoff.reset()
                        logger.info("stream connected reconnect=%s", connected_before)
                        self.on_connected(connected_before)
                        connected_before = True
                        self._read(resp)
                        if self.running:
                            self._failed("network", "stream closed by X")
                    else:
                        self._refused(resp)
                except (*_NETWORK_ERRORS, AttributeError, ValueError, OSError) as e:
                    # AttributeError/ValueError: the response was closed under the reader
                    # (drop_connection from another thread)
                    if self.running:
                        kind = "stall" if _is_timeout(e) else "disconnect"
                        self.counters[kind + "s"] += 1
                        self._failed("network", f"{kind}: {type(e).__name__}")
                finally:
                    with self._lock:
                        self._response = None
                    resp.close()
        finally:
            self.running = False

    def _read(self, resp: requests.Response) -> None:
        buffer = b""
        for chunk in resp.iter_content(chunk_size=None):
            if not self.running:
                return
            buffer += chunk
            *lines, buffer = buffer.split(b"\r\n")
            for line in lines:
                if not line.strip():
                    self.counters["keep_alives"] += 1
                elif line.lstrip().startswith(b'{"errors"') and b'"data"' not in line:
                    self._error_payload(line)
                else:
                    self.counters["posts"] += 1
                    self.on_post(line)
                if not self.running:
                    return
            if len(buffer) > MAX_LINE_BYTES:
                self.counters["oversized_lines"] += 1
                logger.warning(
                    "a stream line grew past %d bytes without ending; reconnecting",
                    MAX_LINE_BYTES,
                )
                return
        if buffer.strip():
            self.counters["truncated_lines"] += 1
            logger.warning(
                "dropped a line cut by the disconnect (%d bytes); the gap fill "
                "reads its post again",
                len(buffer),
            )

    def _error_payload(self, line: bytes) -> None:
        try:
            errors = json.loads(line).get("errors", [])
        except (ValueError, RecursionError, AttributeError):
            errors = []
        for err in errors if isinstance(errors, list) else []:
            if not isinstance(err, dict):
                continue
            title = err.get("title") or err.get("disconnect_type") or "error"
            self.counters[f"error_payload:{title}"] += 1
            logger.warning("stream error payload title=%s detail=%s", title, err.get("detail"))

    def _refused(self, resp: requests.Response) -> None:
        status = resp.status_code
        self.counters[f"http_{status}"] += 1
        try:
            body = resp.json()
        except ValueError:
            body = {}
        if status in (401, 403):
            raise XAuthError(
                f"X refused the stream connection ({status}): "
                f"{body.get('detail') or body.get('title') or ''}"
            )
        if status == 429 and body.get("connection_issue") == "TooManyConnections":
            self.counters["too_many_connections"] += 1
            logger.warning("X still holds a stream connection; clearing it")
            self._clear_connections()
            self._failed("rate_limit", "TooManyConnections cleared")
            return
        if status == 429:
            reset = resp.headers.get("x-rate-limit-reset")
            retry = None
            if reset is not None and reset.isdigit():
                retry = max(0.0, int(reset) - self.clock.now().timestamp())
            self._failed("rate_limit", "rate limited (429)", retry)
            return
        self._failed("http", f"HTTP {status}: {body.get('detail') or body.get('title') or ''}")

    def _clear_connections(self) -> None:
        try:
            r = self.session.delete(f"{TWEEPY_HOST}/2/connections/all", timeout=10)
            self.counters["connections_cleared"] += 1
            logger.info("DELETE /2/connections/all answered %d", r.status_code)
        except requests.RequestException as e:
            logger.warning("could not clear stream connections: %s", type(e).__name__)

    def _failed(self, kind: Kind, why: str, retry_after_s: float | None = None) -> None:
        if not self.running:
            return
        wait = self.backoff.next(kind, retry_after_s)
        self.history.append((kind, wait))
        self.counters[f"backoff_{kind}"] += 1
        if self.backoff.at_max:
            self.counters["backoff_at_max"] += 1
            logger.error(
                "stream backoff at its maximum kind=%s wait_s=%.2f reason=%s", kind, wait, why
            )
        else:
            logger.warning("stream reconnecting kind=%s wait_s=%.2f reason=%s", kind, wait, why)
        if self.clock.sleep(wait):
            self.running = False


def _is_timeout(exc: BaseException) -> bool:
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, requests.Timeout | urllib3.exceptions.ReadTimeoutError | TimeoutError):
            return True
        if "timed out" in str(e).lower():
            return True
        e = (
            e.__cause__
            or e.__context__
            or (e.args[0] if e.args and isinstance(e.args[0], BaseException) else None)
        )
    return False
