"""The metrics read at scrape time from the stages' counters: their declarations (data).

`FAMILIES` declares each metric (name, type, help, labels); `STAGE_KEYS` says which key of a
stage's counters (the keys of its status file) feeds which metric. docs/observability.md lists
them for people.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from veille.metrics.registry import Stage


@dataclass(frozen=True)
class Family:
    """A metric whose value is read at scrape time. `name` is without the `_total` suffix,
    which Prometheus' exposition adds to counters."""

    name: str
    type: Literal["counter", "gauge"]
    help: str
    labels: tuple[str, ...] = ()


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family(
            "veille_stage_running",
            "gauge",
            "1 while the stage is running (partitions assigned, source open), else 0.",
            ("stage",),
        ),
        Family(
            "veille_records_in",
            "counter",
            "Records the stage read: ingest, post payloads from its source; process, raw posts "
            "consumed; sink, Kafka records consumed (posts, dead letters, alerts, readings).",
            ("stage",),
        ),
        Family(
            "veille_posts_out",
            "counter",
            "Posts the stage passed on: ingest, produced to the raw topic; process, enriched "
            "posts produced; sink, posts written to ClickHouse (and committed).",
            ("stage",),
        ),
        Family(
            "veille_source_records",
            "counter",
            "Records the source made itself (account and usage readings, alerts), produced to "
            "their own topics.",
            ("kind",),
        ),
        Family(
            "veille_observations",
            "counter",
            "Observations (one per post and watch entry) the processor fed the crisis detector.",
        ),
        Family(
            "veille_observations_done",
            "counter",
            "Observations the crisis agent has read and evaluated.",
        ),
        Family(
            "veille_alerts_raised",
            "counter",
            "Alerts the processor raised or updated (impersonation, spikes, sentiment dips).",
        ),
        Family(
            "veille_consumer_lag",
            "gauge",
            "Records between the stage's read position and the end of the partition (the "
            "high watermark its Kafka client last saw).",
            ("stage", "topic", "partition"),
        ),
        Family("veille_sink_inserts", "counter", "ClickHouse inserts the sink made."),
        Family(
            "veille_sink_commits",
            "counter",
            "Offset commits of the sink, each after ClickHouse accepted a batch.",
        ),
        Family(
            "veille_sink_retries",
            "counter",
            "Batches ClickHouse could not take (unavailable), retried after a backoff.",
        ),
        Family(
            "veille_sink_backoff_seconds",
            "gauge",
            "Current wait before the sink retries ClickHouse; 0 while writes succeed.",
        ),
        Family(
            "veille_sink_pending_records",
            "gauge",
            "Records buffered by the sink, not yet written (nor committed).",
        ),
        Family("veille_x_reads_today", "gauge", "Posts read from X this UTC day (billed)."),
        Family("veille_x_reads_month", "gauge", "Posts read from X this UTC month (billed)."),
        Family(
            "veille_x_duplicates_today",
            "gauge",
            "Posts read again from X this UTC day (not billed again).",
        ),
        Family(
            "veille_x_budget_posts",
            "gauge",
            "Monthly budget in posts (X_MONTHLY_BUDGET_USD / X_PRICE_PER_POST_USD); absent "
            "without a budget.",
        ),
        Family("veille_x_cost_month_usd", "gauge", "Cost of this month's X reads, in USD."),
        Family(
            "veille_x_paused",
            "gauge",
            "1 while X ingestion is paused because the monthly budget is reached.",
        ),
        Family(
            "veille_x_stream_connections",
            "counter",
            "Successful connections to X's filtered stream.",
        ),
        Family(
            "veille_x_stream_backoffs",
            "counter",
            "Reconnection waits of the filtered stream, by kind (network, http, rate_limit).",
            ("kind",),
        ),
        Family(
            "veille_x_stream_backoff_seconds",
            "gauge",
            "Current reconnection wait of the filtered stream, by schedule (network: linear "
            "to 16 s; http: exponential to 320 s, 429s included); 0 once connected.",
            ("kind",),
        ),
        Family(
            "veille_x_stream_backoff_at_max",
            "gauge",
            "1 while the filtered stream waits at its longest backoff (needs a person).",
        ),
        Family(
            "veille_x_gap_fill_posts",
            "counter",
            "Posts read by recent search to fill the gaps after reconnections.",
        ),
        Family(
            "veille_x_requests",
            "counter",
            "Requests to X besides the stream, by endpoint (search: recent search; count: post "
            "counts, for gap fills and forecasts).",
            ("endpoint",),
        ),
        Family(
            "veille_x_gaps_skipped",
            "counter",
            "Gaps of the stream not filled because their posts would cross the month's budget.",
        ),
        Family(
            "veille_x_side_failures",
            "counter",
            "Failed side calls to X, retried later without stopping the stream, by call "
            "(audience: the accounts lookup; billing: X's usage or post counts).",
            ("call",),
        ),
    )
}

# What each stage's counters (the keys of its status file) feed: key -> (family, label values
# after `stage`).
STAGE_KEYS: dict[Stage, dict[str, tuple[str, tuple[str, ...]]]] = {
    "ingest": {
        "ingested": ("veille_records_in", ()),
        "produced": ("veille_posts_out", ()),
        "account_records": ("veille_source_records", ("account",)),
        "alert_records": ("veille_source_records", ("alert",)),
        "usage_records": ("veille_source_records", ("usage",)),
        # the X source's own figures (`XSource.metrics()`)
        "reads_day": ("veille_x_reads_today", ()),
        "reads_month": ("veille_x_reads_month", ()),
        "duplicates_day": ("veille_x_duplicates_today", ()),
        "budget_posts": ("veille_x_budget_posts", ()),
        "cost_month_usd": ("veille_x_cost_month_usd", ()),
        "paused": ("veille_x_paused", ()),
        "connections": ("veille_x_stream_connections", ()),
        "backoff_network": ("veille_x_stream_backoffs", ("network",)),
        "backoff_http": ("veille_x_stream_backoffs", ("http",)),
        "backoff_rate_limit": ("veille_x_stream_backoffs", ("rate_limit",)),
        "backoff_network_s": ("veille_x_stream_backoff_seconds", ("network",)),
        "backoff_http_s": ("veille_x_stream_backoff_seconds", ("http",)),
        "backoff_at_max_now": ("veille_x_stream_backoff_at_max", ()),
        "gap_fill_posts": ("veille_x_gap_fill_posts", ()),
        "search_requests": ("veille_x_requests", ("search",)),
        "count_requests": ("veille_x_requests", ("count",)),
        "gaps_skipped": ("veille_x_gaps_skipped", ()),
        "audience_failures": ("veille_x_side_failures", ("audience",)),
        "billing_failures": ("veille_x_side_failures", ("billing",)),
        "forecast_records": ("veille_source_records", ("forecast",)),
    },
    "process": {
        "consumed": ("veille_records_in", ()),
        "enriched": ("veille_posts_out", ()),
        "observations": ("veille_observations", ()),
        "observations_done": ("veille_observations_done", ()),
        "alerts": ("veille_alerts_raised", ()),
    },
    "sink": {
        "consumed": ("veille_records_in", ()),
        "posts": ("veille_posts_out", ()),
        "inserts": ("veille_sink_inserts", ()),
        "commits": ("veille_sink_commits", ()),
        "retries": ("veille_sink_retries", ()),
        "backoff_s": ("veille_sink_backoff_seconds", ()),
        "pending": ("veille_sink_pending_records", ()),
    },
}
