"""Time, injectable: real time in production, a fake clock where tests check backoff delays.

`sleep()` is interruptible: it returns True as soon as `interrupt()` is called (a stop request),
so no wait holds up a shutdown.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta


class Clock:
    """Real time."""

    def __init__(self) -> None:
        self._stop = threading.Event()

    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> bool:
        """Wait `seconds`; True when interrupted first."""
        return self._stop.wait(max(0.0, seconds))

    def interrupt(self) -> None:
        self._stop.set()

    @property
    def interrupted(self) -> bool:
        return self._stop.is_set()


class FakeClock(Clock):
    """Time that moves only when someone sleeps: sleeps return at once and are recorded.

    `now()` starts at the real time and advances by the slept seconds, so wall-clock windows
    (search start/end times) stay consistent with the sleeps.
    """

    def __init__(self, start: datetime | None = None) -> None:
        super().__init__()
        self._offset = 0.0
        self._start = start or datetime.now(UTC)
        self._real = time.monotonic()
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        return time.monotonic() + self._offset

    def now(self) -> datetime:
        return self._start + timedelta(seconds=time.monotonic() - self._real + self._offset)

    def sleep(self, seconds: float) -> bool:
        with self._lock:
            self.sleeps.append(seconds)
            self._offset += max(0.0, seconds)
        time.sleep(0.001)  # let other threads run, as a real sleep would
        return self.interrupted
