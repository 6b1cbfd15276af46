"""X's rate-limit windows: so many requests per window, told in `x-rate-limit-*` headers."""

from __future__ import annotations

import math
import time

RATE_WINDOW_S = 900.0
"""X's window: 15 minutes."""
USAGE_LIMIT = 50
"""X's limit on `GET /2/usage/tweets` per window."""


class RateWindow:
    """`limit` requests per `window_s` seconds, the window opening at its first request.

    Not thread-safe: the fake uses it under its lock.
    """

    def __init__(self, limit: int, window_s: float = RATE_WINDOW_S) -> None:
        if limit < 0 or window_s <= 0:
            raise ValueError("a rate limit needs limit >= 0 and window_s > 0")
        self.limit = limit
        self.window_s = window_s
        self._start: float | None = None
        self._used = 0

    def take(self) -> tuple[bool, dict[str, str]]:
        """Spend one request: whether it is allowed, and the headers to answer it with.

        `x-rate-limit-reset` is the epoch second at which the window reopens, as X sends it.
        """
        now = time.monotonic()
        if self._start is None or now - self._start >= self.window_s:
            self._start, self._used = now, 0
        allowed = self._used < self.limit
        self._used += int(allowed)
        reset = math.ceil(time.time() + self._start + self.window_s - now)
        return allowed, {
            "x-rate-limit-limit": str(self.limit),
            "x-rate-limit-remaining": str(self.limit - self._used),
            "x-rate-limit-reset": str(reset),
        }
