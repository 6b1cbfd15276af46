"""Replay NDJSON files of X API v2 payloads (one payload per line), as recorded from the stream.

With `speed=None` lines are yielded as fast as the pipeline takes them; with a speed factor the
gaps between posts' `created_at` are reproduced, divided by the factor (2.0 = twice as fast).
Blank lines are layout, not records. A line that is not valid JSON (or not UTF-8) is still
yielded: the ingest runner dead-letters it with its reason. Files ending in `.gz` are read
compressed.

With a `state_file`, the replay resumes: each record carries its (file, line) position, the
position up to which Kafka acknowledged everything is saved there (about once a second and at
`close()`), and a replay of the same inputs starts after it. A replay that reached the end of
its inputs with everything acknowledged removes the file: the next one starts over.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import time
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import IO, Any, cast

from ingest.base import Source, SourceRecord

logger = logging.getLogger(__name__)

_SAVE_EVERY_S = 1.0


def _created_at(line: bytes) -> float | None:
    try:
        value = json.loads(line)["data"]["created_at"]
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return None


class ReplaySource(Source):
    """Yields the lines of NDJSON files; see the module docstring for pacing."""

    name = "replay"

    def __init__(
        self,
        paths: Sequence[Path | str],
        speed: float | None = None,
        state_file: Path | None = None,
    ) -> None:
        super().__init__()
        if not paths:
            raise ValueError("replay needs at least one input file")
        if speed is not None and speed <= 0:
            raise ValueError("speed must be positive (or None for as fast as possible)")
        self.paths = [Path(p) for p in paths]
        self.speed = speed
        self.state_file = state_file
        self.resume_after: tuple[int, int] = (0, 0)
        self._acked: tuple[int, int] | None = None
        self._last: tuple[int, int] | None = None
        self._exhausted = False
        self._saved_at = 0.0

    def _inputs(self) -> list[str]:
        return [str(p.resolve()) for p in self.paths]

    def start(self) -> None:
        """Check the inputs; read where an interrupted replay of the same inputs stopped."""
        for p in self.paths:
            if not p.is_file():
                raise FileNotFoundError(f"replay input not found: {p}")
        if self.state_file is None:
            return
        try:
            state = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return
        if state.get("inputs") == self._inputs():
            self.resume_after = (int(state["file"]), int(state["line"]))
            logger.info("replay resumes after file=%d line=%d", *self.resume_after)

    def acknowledged(self, position: Any) -> None:
        self._acked = position
        if time.monotonic() - self._saved_at >= _SAVE_EVERY_S:
            self._save()

    def _save(self) -> None:
        if self.state_file is None or self._acked is None:
            return
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        state = {"inputs": self._inputs(), "file": self._acked[0], "line": self._acked[1]}
        tmp.write_text(json.dumps(state))
        os.replace(tmp, self.state_file)
        self._saved_at = time.monotonic()

    def close(self) -> None:
        """Save how far Kafka acknowledged (or forget it when the replay completed)."""
        if self.state_file is None:
            return
        if self._exhausted and self._acked == self._last:
            self.state_file.unlink(missing_ok=True)
        else:
            self._save()

    def _open(self, path: Path) -> IO[bytes]:
        if path.suffix == ".gz":
            return cast(IO[bytes], gzip.open(path, "rb"))
        return path.open("rb")

    def records(self) -> Iterator[SourceRecord]:
        first_event: float | None = None
        first_wall = time.monotonic()
        for index, path in enumerate(self.paths):
            if index < self.resume_after[0]:
                continue
            with self._open(path) as fh:
                for lineno, raw in enumerate(fh, 1):
                    if self.stopping:
                        return
                    if (index, lineno) <= self.resume_after:
                        continue
                    line = raw.rstrip(b"\r\n")
                    if not line.strip():
                        continue
                    if self.speed is not None:
                        event = _created_at(line)
                        if event is not None:
                            if first_event is None:
                                first_event, first_wall = event, time.monotonic()
                            due = first_wall + (event - first_event) / self.speed
                            delay = due - time.monotonic()
                            if delay > 0 and self.wait(delay):
                                return
                    self._last = (index, lineno)
                    yield SourceRecord(line, f"replay:{path.name}:{lineno}", position=self._last)
        self._exhausted = True
