"""Replay NDJSON files of X API v2 payloads (one payload per line), as recorded from the stream.

With `speed=None` lines are yielded as fast as the pipeline takes them; with a speed factor the
gaps between posts' `created_at` are reproduced, divided by the factor (2.0 = twice as fast).
Blank lines are layout, not records. A line that is not valid JSON (or not UTF-8) is still
yielded: the ingest runner dead-letters it with its reason. Files ending in `.gz` are read
compressed.
"""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import IO, cast

from ingest.base import Source, SourceRecord


def _created_at(line: bytes) -> float | None:
    try:
        value = json.loads(line)["data"]["created_at"]
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


class ReplaySource(Source):
    """Yields the lines of NDJSON files; see the module docstring for pacing."""

    name = "replay"

    def __init__(self, paths: Sequence[Path | str], speed: float | None = None) -> None:
        super().__init__()
        if not paths:
            raise ValueError("replay needs at least one input file")
        if speed is not None and speed <= 0:
            raise ValueError("speed must be positive (or None for as fast as possible)")
        self.paths = [Path(p) for p in paths]
        self.speed = speed

    def start(self) -> None:
        for p in self.paths:
            if not p.is_file():
                raise FileNotFoundError(f"replay input not found: {p}")

    def _open(self, path: Path) -> IO[bytes]:
        if path.suffix == ".gz":
            return cast(IO[bytes], gzip.open(path, "rb"))
        return path.open("rb")

    def records(self) -> Iterator[SourceRecord]:
        first_event: float | None = None
        first_wall = time.monotonic()
        for path in self.paths:
            with self._open(path) as fh:
                for lineno, raw in enumerate(fh, 1):
                    if self.stopping:
                        return
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
                    yield SourceRecord(line, f"replay:{path.name}:{lineno}")
