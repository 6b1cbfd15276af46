"""Alerts, and the observations the crisis detector reads to raise them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import Field

from veille.models.base import UtcDatetime, _Model

AlertSeverity = Literal["info", "warning", "critical"]


class Alert(_Model):
    """Something a person should know now: a budget reached, a crisis, an impersonator.

    `key` identifies what the alert is about (`budget:2026-11`, `spike:Orbital Telecom`): a
    later alert with the same key updates the earlier one instead of adding another.
    """

    key: str
    kind: str
    severity: AlertSeverity = "warning"
    title: str
    detail: str = ""
    entry: str | None = None
    created_at: UtcDatetime = Field(default_factory=lambda: datetime.now(UTC))
    data: dict[str, Any] = Field(default_factory=dict)


class Observation(_Model):
    """One (post, watch entry) as the crisis detector sees it: the value of a record of the
    observations topic, keyed by the entry (built by the enrich side from an enriched post)."""

    entry: str
    minute: int = Field(description="minutes since the epoch, of the post's created_at")
    negative: bool
    terms: tuple[str, ...] = ()
    post_id: str = ""
    author: str = ""
    text: str = ""
    engagement: int = 0
    partition: int = Field(
        0, description="the enriched-topic partition it came from (for the watermark)"
    )

    @property
    def key(self) -> bytes:
        """The Kafka key: the entry, so all of an entry's observations reach one worker."""
        return self.entry.encode()


class ObservationBatch(_Model):
    """The observations of one watch entry from one batch of enriched posts: the value of a
    record of the observations topic since 2026-12, keyed by the entry. One record per entry
    and batch, rather than one per post, keeps the topic and the crisis agent's reading to a
    few records a second whatever the stream's rate. A worker still reads a single
    `Observation` (the records of earlier workers) as a batch of one."""

    entry: str
    observations: tuple[Observation, ...]

    @property
    def key(self) -> bytes:
        """The Kafka key: the entry, so all of an entry's observations reach one worker."""
        return self.entry.encode()
