"""The customer-care dashboard: asks addressed to the official accounts, and how fast they are
answered."""

from __future__ import annotations

from sinks import queries

from .builder import ENTRY_POSTS, Dashboard, named, sql, stat, table, timeseries

CUSTOMER_CARE = Dashboard(
    "veille-customer-care",
    "veille — Customer care",
    "Questions, complaints and requests addressed to the official accounts, and how fast they "
    "are answered.",
    [
        stat(
            "Waiting for an answer",
            named("care_queue", "SELECT count() AS waiting FROM ({q})", limit=1_000_000),
            description="Asks addressed to an official account that no official account "
            "answered yet (whatever the time range).",
        ),
        stat(
            "Longest wait",
            named(
                "care_queue",
                "SELECT max(wait_minutes) AS longest_wait FROM ({q})",
                limit=1_000_000,
            ),
            unit="m",
        ),
        stat(
            "Answered",
            named(
                "response_times",
                "SELECT round(sum(answered) / greatest(sum(asked), 1), 3) AS answered FROM ({q})",
            ),
            unit="percentunit",
            description="Share of the asks of the time range that an official account answered.",
        ),
        stat(
            "Complaints",
            sql(
                f"""
SELECT count() AS complaints
FROM posts FINAL
WHERE $__timeFilter(created_at) AND intent = 'complaint' AND kind != 'retweet'
  AND author_entry = '' AND {ENTRY_POSTS}
"""
            ),
        ),
        table(
            "Care queue (oldest first)",
            named("care_queue"),
            w=24,
            h=10,
            description=queries.get("care_queue").description,
        ),
        timeseries(
            "Response time per day",
            named(
                "response_times",
                "SELECT toDateTime(day, 'UTC') AS time, median_minutes, p90_minutes\n"
                "FROM ({q})\nORDER BY time",
            ),
            unit="m",
            bars=True,
            description="Minutes to the first official reply: median and 90th percentile of "
            "the asks of each day.",
        ),
        timeseries(
            "Asked and answered per day",
            named(
                "response_times",
                "SELECT toDateTime(day, 'UTC') AS time, asked, answered\nFROM ({q})\nORDER BY time",
            ),
            bars=True,
        ),
        timeseries(
            "Questions, complaints and requests",
            named("asks_over_time"),
            description="Posts asking something of the entry, per intent (replies of official "
            "accounts left out).",
        ),
        table(
            "Latest complaints",
            named("recent_posts", intent="complaint", limit=50),
        ),
    ],
    time_from="now-7d",
)
