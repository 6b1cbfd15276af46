"""Stage status files: how a running stage tells `veille up` (and operators) what it has done.

Each stage process may be given a status file; it rewrites it atomically (write then rename)
at most every `interval` seconds and once more when it stops. The content is one JSON object:
`stage`, `state` (`starting|running|stopped|failed`), `pid`, `updated_at` and the stage's
counters. Readers never see a half-written file.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Literal

State = Literal["starting", "running", "stopped", "failed"]


class StatusFile:
    """Writes one stage's status. A `None` path makes every call a no-op."""

    def __init__(self, path: Path | None, stage: str, interval: float = 0.5) -> None:
        self.path = path
        self.stage = stage
        self.interval = interval
        self.counters: dict[str, Any] = {}
        self.state: State = "starting"
        self._last = 0.0

    def update(self, force: bool = False, **counters: Any) -> None:
        self.counters.update(counters)
        now = time.monotonic()
        if self.path is None or (not force and now - self._last < self.interval):
            return
        self._last = now
        doc = {
            "stage": self.stage,
            "state": self.state,
            "pid": os.getpid(),
            "updated_at": time.time(),
            **self.counters,
        }
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc))
        os.replace(tmp, self.path)

    def set_state(self, state: State, **counters: Any) -> None:
        self.state = state
        self.update(force=True, **counters)


def read_status(path: Path) -> dict[str, Any]:
    """The last status a stage wrote, or `{}` when it has written none yet."""
    try:
        data = json.loads(path.read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}
