"""Readings over time: a watched account's public counts, and the X usage against its budget."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import Field

from veille.models.base import UINT64_MAX, EntryKind, PostId, UtcDatetime, _Model


class AccountSnapshot(_Model):
    """The public counts of a watched account at one moment (the audience poller's reading)."""

    id: PostId
    username: str
    name: str = ""
    entry: str = Field(description="the watch entry owning the account")
    entry_kind: EntryKind
    followers_count: int = Field(ge=0, le=UINT64_MAX)
    following_count: int = Field(0, ge=0, le=UINT64_MAX)
    tweet_count: int = Field(0, ge=0, le=UINT64_MAX)
    listed_count: int = Field(0, ge=0, le=UINT64_MAX)
    observed_at: UtcDatetime = Field(default_factory=lambda: datetime.now(UTC))


class UsageSnapshot(_Model):
    """Posts read from X (billed once per post per UTC day) and the budget they count against."""

    day: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    month: str = Field(pattern=r"^\d{4}-\d{2}$")
    reads_day: int = Field(ge=0)
    reads_month: int = Field(ge=0)
    duplicates_day: int = Field(0, ge=0, description="posts read again the same day (not billed)")
    budget_posts: int | None = None
    cost_month_usd: float = 0.0
    paused: bool = False
    observed_at: UtcDatetime = Field(default_factory=lambda: datetime.now(UTC))
