"""X's reconnection schedule for the filtered stream.

From X's "handling disconnections" guide:
- network errors (TCP/IP level, stalls): back off linearly, +250 ms per attempt, up to 16 s;
- HTTP errors: back off exponentially from 5 s, doubling, up to 320 s;
- HTTP 429 (rate limited): back off exponentially from 60 s, doubling, up to 320 s here, and
  never less than until the `x-rate-limit-reset` time when X gives one.
A successful connection resets every schedule. Reaching a maximum is reported (`at_max`), so
that the stream logs it and counts it: a stream stuck at its longest wait needs a person.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["network", "http", "rate_limit"]

NETWORK_STEP_S = 0.25
NETWORK_MAX_S = 16.0
HTTP_START_S = 5.0
HTTP_MAX_S = 320.0
RATE_LIMIT_START_S = 60.0


@dataclass
class Backoff:
    """The next wait for each kind of failure. Not thread-safe (one per stream)."""

    network_s: float = 0.0
    http_s: float = 0.0
    at_max: bool = False

    def reset(self) -> None:
        self.network_s = 0.0
        self.http_s = 0.0
        self.at_max = False

    def next(self, kind: Kind, retry_after_s: float | None = None) -> float:
        """The wait before the next attempt after a failure of `kind`."""
        if kind == "network":
            self.network_s = min(self.network_s + NETWORK_STEP_S, NETWORK_MAX_S)
            self.at_max = self.network_s >= NETWORK_MAX_S
            return self.network_s
        start = RATE_LIMIT_START_S if kind == "rate_limit" else HTTP_START_S
        self.http_s = start if self.http_s < start else min(self.http_s * 2, HTTP_MAX_S)
        self.at_max = self.http_s >= HTTP_MAX_S
        wait = self.http_s
        if retry_after_s is not None:
            wait = max(wait, retry_after_s)
        return wait
