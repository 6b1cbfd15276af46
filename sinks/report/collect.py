"""Everything the report shows, read through the named queries (`sinks/queries/*.sql`).

Each section is a list of plain dicts (column name -> value), in the order the query returns;
an empty list means the section has no data. Only the period's bounds, the entry and fixed
limits are passed, always as ClickHouse parameters.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sinks import queries
from sinks.report.period import Period, parse_time

logger = logging.getLogger(__name__)

CARE_QUEUE_LIMIT = 10_000
Row = dict[str, Any]


_run = queries.rows


@dataclass
class Bucket:
    """One timeline bucket: posts by sentiment (a post counts once)."""

    time: datetime
    negative: int = 0
    neutral: int = 0
    positive: int = 0

    @property
    def posts(self) -> int:
        return self.negative + self.neutral + self.positive


@dataclass
class Totals:
    posts: int = 0
    negative: int = 0
    positive: int = 0

    @property
    def share_negative(self) -> float | None:
        return self.negative / self.posts if self.posts else None

    @property
    def net_sentiment(self) -> float | None:
        return (self.positive - self.negative) / self.posts if self.posts else None


@dataclass
class ReportData:
    """The report's figures, one attribute per section."""

    period: Period
    entry: str | None
    bucket_s: int
    timeline: list[Bucket] = field(default_factory=list)
    totals: Totals = field(default_factory=Totals)
    previous: Totals = field(default_factory=Totals)
    previous_complete: bool = False  # posts from the start of the previous period on
    share_of_voice: list[Row] = field(default_factory=list)
    main_brand: str | None = None
    sentiment_by_entry: list[Row] = field(default_factory=list)
    emerging_window_h: int = 24
    emerging_baseline_h: int = 144
    emerging_terms: list[Row] = field(default_factory=list)
    hashtags: list[Row] = field(default_factory=list)
    authors_reach: list[Row] = field(default_factory=list)
    authors_engagement: list[Row] = field(default_factory=list)
    care_queue: list[Row] = field(default_factory=list)
    response_times: list[Row] = field(default_factory=list)
    alerts: list[Row] = field(default_factory=list)
    languages: list[Row] = field(default_factory=list)
    audience: list[Row] = field(default_factory=list)
    negative_posts: list[Row] = field(default_factory=list)

    @property
    def care_queue_capped(self) -> bool:
        return len(self.care_queue) >= CARE_QUEUE_LIMIT

    @property
    def main_brand_share(self) -> float | None:
        for r in self.share_of_voice:
            if r["entry"] == self.main_brand:
                return float(r["share"])
        return None


def _timeline(client: Any, period: Period, entry: str, bucket_s: int) -> list[Bucket]:
    params = {**period.params, "entry": entry, "interval_s": str(bucket_s)}
    found = {}
    for r in _run(client, "mentions_over_time", params):
        t = parse_time(r["time"])
        neg, pos = int(r["negative"]), int(r["positive"])
        found[t] = Bucket(t, neg, int(r["posts"]) - neg - pos, pos)
    # every bucket of the period, empty ones included, so the chart's x axis is regular
    first = int(period.start.timestamp()) // bucket_s * bucket_s
    out = []
    for ts in range(first, int(period.end.timestamp()), bucket_s):
        t = datetime.fromtimestamp(ts, UTC)
        out.append(found.pop(t, Bucket(t)))
    if found:  # buckets not on the grid (should not happen): keep their posts anyway
        out = sorted(out + list(found.values()), key=lambda b: b.time)
    return out


def _totals(buckets: list[Bucket]) -> Totals:
    return Totals(
        posts=sum(b.posts for b in buckets),
        negative=sum(b.negative for b in buckets),
        positive=sum(b.positive for b in buckets),
    )


def emerging_terms(
    client: Any, period: Period, entry: str, limit: int = 15
) -> tuple[int, int, list[Row]]:
    """Terms rising at the end of `period`: the window (a seventh of the period, at least 1 h)
    and its baseline (the rest of the period), in hours, and the `emerging_terms` rows."""
    hours = max(2, round(period.length.total_seconds() / 3600))
    window = max(1, hours // 7)
    params = {
        "end": period.params["end"],
        "window_h": str(window),
        "baseline_h": str(hours - window),
        "min_support": "3",
        "entry": entry,
        "limit": str(limit),
    }
    return window, hours - window, _run(client, "emerging_terms", params)


def collect(client: Any, period: Period, entry: str | None = None) -> ReportData:
    """Run every query the report needs. Raises `QueryError` when ClickHouse refuses one."""
    e = entry or ""
    span = period.params
    data = ReportData(period=period, entry=entry, bucket_s=period.bucket_s())

    data.timeline = _timeline(client, period, e, data.bucket_s)
    data.totals = _totals(data.timeline)
    before = period.previous()
    earlier = _timeline(client, before, e, data.bucket_s)
    data.previous = _totals(earlier)
    first = next((b.time for b in earlier if b.posts), None)
    # compare with the previous period only when the data covers it (not when it began later)
    data.previous_complete = first is not None and first - before.start <= before.length / 10

    data.share_of_voice = _run(client, "share_of_voice", span)
    brands = [r for r in data.share_of_voice if r["kind"] == "brand"]
    data.main_brand = entry or (brands[0]["entry"] if brands else None)
    data.sentiment_by_entry = _run(client, "sentiment_by_brand", span)

    window_h, baseline_h, data.emerging_terms = emerging_terms(client, period, e)
    data.emerging_window_h, data.emerging_baseline_h = window_h, baseline_h
    data.hashtags = _run(client, "top_hashtags", {**span, "entry": e, "limit": "15"})
    for order, attr in (("reach", "authors_reach"), ("engagement", "authors_engagement")):
        rows = _run(client, "top_authors", {**span, "entry": e, "order": order, "limit": "10"})
        setattr(data, attr, rows)

    # waits as of the newest post itself (to the millisecond, so that post is in the queue)
    as_of = f"{period.newest:%Y-%m-%d %H:%M:%S.%f}"[:-3] if period.newest else ""
    data.care_queue = _run(
        client, "care_queue", {"entry": e, "as_of": as_of, "limit": str(CARE_QUEUE_LIMIT)}
    )
    data.response_times = _run(client, "response_times", {**span, "entry": e})

    alerts = _run(client, "alerts", {"entry": e, "limit": "500"})
    # since the period's start, including alerts raised after the newest post (a budget pause)
    data.alerts = [a for a in alerts if parse_time(a["created_at"]) >= period.start]

    data.languages = _run(client, "language_mix", {**span, "entry": e})
    data.audience = _run(client, "audience_growth", span)

    negative = _run(client, "recent_posts", {"entry": e, "sentiment": "negative", "limit": "8"})
    data.negative_posts = [
        p for p in negative if period.start <= parse_time(p["created_at"]) < period.end
    ]
    logger.info(
        "report data start=%s end=%s entry=%r posts=%d",
        span["start"],
        span["end"],
        e,
        data.totals.posts,
    )
    return data
