"""Readings over time: a watched account's public counts, the X usage against its budget, and
what each X rule is expected to cost."""

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
    x_reported_day: int | None = Field(
        None, ge=0, description="X's own count of the day's billed posts (GET /2/usage/tweets)"
    )
    x_checked_at: UtcDatetime | None = Field(None, description="when X's count was read")
    observed_at: UtcDatetime = Field(default_factory=lambda: datetime.now(UTC))


class RuleForecast(_Model):
    """What one watch item's X rules are expected to read and cost, from X's post counts of the
    last 7 days (`veille rules --forecast`), taken before anything is spent."""

    forecast_at: UtcDatetime
    tag: str = Field(description="the item's rule tag without its part: `brand:Acme`, `sector:x`")
    kind: str = Field(description="brand, competitor, partner, supplier or sector")
    rules: int = Field(ge=1, description="filtered-stream rules of the item")
    counted_posts: int = Field(ge=0, description="posts X counted over the window (sampled)")
    days: float = Field(gt=0, description="length of the counted window, in days")
    sample_pct: int | None = Field(None, ge=1, le=100, description="the sector's `sample:`")
    posts_per_day: float = Field(ge=0)
    cost_month_usd: float = Field(ge=0, description="posts per day x 30.44 x the price")
    budget_usd: float | None = Field(None, ge=0, description="X_MONTHLY_BUDGET_USD then")
    over_budget: bool = Field(False, description="this item alone costs more than the budget")
