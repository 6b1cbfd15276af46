"""The sink contract, after quix-streams' BatchingSink: buffer with `add()`, persist on `flush()`.

A runner adds each consumed record to the sink and calls `flush()` when the batch is full or its
time is up; it commits the consumed offsets only after `flush()` returned. If `flush()` raises,
nothing was committed: the runner retries the same batch (`SinkUnavailable`, with backoff) or
stops (`SinkError`, which cannot heal). Writes are idempotent, so a batch written twice (after a
crash between insert and commit) counts once in every query.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

Record = BaseModel
"""What a sink stores: a model of one of the stored kinds of the catalogue (`veille.records`)."""


class SinkError(RuntimeError):
    """A write that cannot succeed by retrying (bad credentials, schema mismatch)."""


class SinkUnavailable(SinkError):
    """The store is unreachable or overloaded; retry the same batch after `retry_after` s."""

    def __init__(self, message: str, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass
class FlushResult:
    """What one flush wrote: rows per table, inserts made, time taken."""

    rows: dict[str, int] = field(default_factory=dict)
    inserts: int = 0
    elapsed_s: float = 0.0
    refused: list[tuple[Any, str]] = field(default_factory=list)
    """Records the store refused one by one, with its reason (not written; to dead-letter)."""
    rollup_rebuilt: int = 0
    """Rollup minutes computed again because copies of a post differed (`sinks.rollup`)."""

    @property
    def posts(self) -> int:
        return self.rows.get("posts", 0)

    @property
    def dead_letters(self) -> int:
        return self.rows.get("dead_letters", 0)


class Sink(ABC):
    """Buffers records; `flush()` persists the whole buffer or raises and keeps it."""

    def start(self) -> None:  # noqa: B027 - optional hook
        """Open connections, apply migrations."""

    @abstractmethod
    def add(self, record: Record) -> None:
        """Buffer one record (its type says which table it goes to, per `veille.records`).

        Raises `SinkError` for a model that is not a stored kind of the catalogue."""

    @property
    @abstractmethod
    def pending(self) -> int:
        """Records buffered since the last successful flush."""

    @abstractmethod
    def flush(self) -> FlushResult:
        """Persist everything buffered. On success the buffer is empty; on error it is kept
        intact so that the same batch can be retried."""

    def discard(self) -> None:  # noqa: B027 - optional hook
        """Drop the buffer (its partitions were revoked: their new owner re-reads them)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections; does not flush."""
