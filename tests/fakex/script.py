"""The stream script: the steps a test queues to drive what the fake X stream does.

Steps are consumed in order across connections: `Send`, `Drop`, `Disconnect`, `Stall` and
`OperationalDisconnect` by a live stream; `HttpError`, `RateLimit` and `StaleConnection` by the
next connection attempt (`CONNECT_STEPS`).
"""

from __future__ import annotations

from dataclasses import dataclass


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
CONNECT_STEPS = (HttpError, RateLimit, StaleConnection)
"""Steps consumed by a connection attempt; a live stream that reaches one only keeps alive."""
