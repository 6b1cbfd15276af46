"""librdkafka's own log lines, through Python's logging, each said once a minute at most.

Left alone, librdkafka writes to stderr itself: a broker out of reach gave ~590 raw lines
(`%3|...|FAIL|rdkafka#producer-1| ... Connection refused`) before veille's one-line error.
Every librdkafka client veille makes is given `LOGGER` (settings' `*_config()`), so its lines
go where the stage's log goes, at their level, and a line that says again what was said in the
last `REPEAT_S` seconds (the same client, facility and text, numbers aside) is dropped.
"""

from __future__ import annotations

import logging
import re
import threading
import time

REPEAT_S = 60.0

_NUMBERS = re.compile(r"\d+")


class _SaidRecently(logging.Filter):
    """Drops a record whose text, numbers aside, was let through in the last `REPEAT_S`."""

    def __init__(self) -> None:
        super().__init__()
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        key = _NUMBERS.sub("#", record.getMessage())
        now = time.monotonic()
        with self._lock:
            if now - self._last.get(key, -REPEAT_S) < REPEAT_S:
                return False
            if len(self._last) > 1000:
                self._last.clear()
            self._last[key] = now
        return True


LOGGER = logging.getLogger("librdkafka")
LOGGER.addFilter(_SaidRecently())
