"""The source contract: anything that yields X API v2 post payloads.

A source is constructed from validated options only (no I/O in `__init__`), opened by
`start()`, iterated with `records()`, and asked to end with `stop()` (from another thread or a
signal handler); `close()` releases what `start()` opened and is safe to call twice. A source that
resumes after a restart tags its records with a `position` and saves what `acknowledged()` says.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from veille.records import SourceKind


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """One payload as the source delivered it, and where it came from (for dead letters).

    `kind` is `post` for X post payloads; a source may also emit account readings, alerts and
    usage readings (the JSON of `AccountSnapshot`, `Alert`, `UsageSnapshot`), each produced to
    its kind's topic (`veille.records`).
    """

    payload: bytes
    origin: str
    kind: SourceKind = "post"
    position: Any = None
    """Where the source is once this record is safely in Kafka (a replay's file and line, the
    synthetic clock); given back to `Source.acknowledged()`. None: the source does not resume."""


class Source(ABC):
    """Yields X API v2 post payloads (`{"data", "includes", "matching_rules"}` JSON bytes).

    `records()` ends when the source is exhausted (a replayed file's end) or soon after
    `stop()`; an infinite source (synthetic without a count, the X stream) ends only then.
    A payload that the source cannot even frame (an undecodable line) is still yielded: the
    runner dead-letters it with its reason, so nothing is dropped silently.
    """

    name: ClassVar[str]

    def __init__(self) -> None:
        self._stopping = threading.Event()

    def start(self) -> None:  # noqa: B027 - optional hook
        """Open files or connections. Raises on what cannot work (missing file, bad token)."""

    @abstractmethod
    def records(self) -> Iterator[SourceRecord]:
        """Yield payloads until exhausted or stopped."""

    def stop(self) -> None:
        """Ask `records()` to end soon; safe from any thread or a signal handler."""
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds` unless stopped; True when stop() was called."""
        return self._stopping.wait(seconds)

    def acknowledged(self, position: Any) -> None:  # noqa: B027 - optional hook
        """Every record up to the one that carried `position` (in the order `records()` yielded
        them) was acknowledged by Kafka: a source that resumes saves it, so that a restart
        continues from there. Called on the runner's thread, positions in order."""

    def metrics(self) -> dict[str, Any]:
        """Figures about the source itself (connections, reads...), for the status file."""
        return {}

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release what start() opened. Idempotent."""
