"""The pipeline-health dashboard: is veille keeping up. Live rates, lag, dead letters, batches,
backoff and X usage from the stages' metrics (Prometheus, `veille/metrics`, docs/observability.md);
posts stored, delays and dead letters from ClickHouse.

Most of its SQL is its own, not a named query: it measures veille itself (partitions, pipeline
times, the server's clock), not what is said about the entries.
"""

from __future__ import annotations

from sinks import queries

from .builder import Dashboard, named, prom_stat, prom_timeseries, sql, stat, table, timeseries

# Posts carry created_at as their partition key: bound it too, so that a panel over recent
# pipeline times reads recent partitions only (X's recent search reaches back 7 days).
RECENT_PARTITIONS = "created_at >= $__fromTime - INTERVAL 7 DAY"

# Grafana's rate window: at least four scrape intervals (the datasource's timeInterval).
RATE = "$__rate_interval"

QUANTILES = {"p50": 0.5, "p90": 0.9, "p99": 0.99}


def _lag(since: str, until: str, prefix: str, *quantiles: str) -> list[str]:
    """Columns `{prefix}{quantile}`: quantiles of `until - since`, in seconds."""
    delay = f"dateDiff('millisecond', {since}, {until})"
    return [f"quantile({QUANTILES[q]})({delay}) / 1000 AS {prefix}{q}" for q in quantiles]


def _lag_over_time(*columns: list[str]) -> str:
    """A time series of lag quantiles of the posts received in each bucket."""
    select = ",\n    ".join(c for group in columns for c in group)
    return sql(
        f"""
SELECT
    $__timeInterval(received_at) AS time,
    {select}
FROM posts FINAL
WHERE $__timeFilter(received_at) AND {RECENT_PARTITIONS}
GROUP BY time
ORDER BY time
"""
    )


# Live panels, from the stages' metrics in Prometheus (veille/metrics/, docs/observability.md).
LIVE = [
    prom_stat(
        "Stages running",
        ("{{stage}}", "sum by (stage) (veille_stage_running)"),
        description="Stage processes running now: ingest, each Faust worker, the sink.",
    ),
    prom_stat(
        "Records behind",
        ("{{stage}}", "sum by (stage) (veille_consumer_lag)"),
        description="Consumer lag summed over partitions: records in Kafka not yet handled "
        "(sink: not yet written and committed; process: not yet read).",
    ),
    prom_stat(
        "Sink backoff",
        ("ClickHouse retry in", "max(veille_sink_backoff_seconds)"),
        ("buffered", "sum(veille_sink_pending_records)"),
        units={"ClickHouse retry in": "s"},
        description="Seconds before the sink retries ClickHouse (0 while writes succeed), "
        "and records it holds unwritten.",
    ),
    prom_stat(
        "X usage",
        ("read today", "max(veille_x_reads_today)"),
        ("read this month", "max(veille_x_reads_month)"),
        ("budget", "max(veille_x_budget_posts)"),
        ("paused", "max(veille_x_paused)"),
        description="Posts read (billed) from X, the monthly budget in posts, and 1 while "
        "ingestion is paused at the budget. Empty with a source other than X.",
    ),
    prom_timeseries(
        "Posts per second through each stage",
        ("{{stage}} in", f"sum by (stage) (rate(veille_records_in_total[{RATE}]))"),
        ("{{stage}} out", f"sum by (stage) (rate(veille_posts_out_total[{RATE}]))"),
        unit="cps",
        description="In: what each stage reads (the sink: every record of its topics). Out: "
        "posts produced by ingest, enriched by process, written to ClickHouse by the sink.",
    ),
    prom_timeseries(
        "Rows written per second",
        ("{{table}}", f"sum by (table) (rate(veille_sink_rows_total[{RATE}]))"),
        unit="cps",
        description="Rows the sink inserted into ClickHouse, per table.",
    ),
    prom_timeseries(
        "Consumer lag",
        ("{{stage}} {{topic}}", "sum by (stage, topic) (veille_consumer_lag)"),
        description="Records behind per stage and topic, summed over partitions.",
    ),
    prom_timeseries(
        "Dead letters per second",
        (
            "{{stage}}: {{reason}}",
            f"sum by (stage, reason) (rate(veille_dead_letters_total[{RATE}]))",
        ),
        unit="cps",
        description="Records sent to the dead-letter topic, per stage and reason class.",
    ),
    prom_timeseries(
        "Batch size",
        (
            "{{stage}} p50",
            "histogram_quantile(0.5, sum by (stage, le) "
            f"(rate(veille_batch_records_bucket[{RATE}])))",
        ),
        (
            "{{stage}} p90",
            "histogram_quantile(0.9, sum by (stage, le) "
            f"(rate(veille_batch_records_bucket[{RATE}])))",
        ),
        (
            "{{stage}} mean",
            f"sum by (stage) (rate(veille_batch_records_sum[{RATE}])) / "
            f"sum by (stage) (rate(veille_batch_records_count[{RATE}]))",
        ),
        description="Raw posts per enrich batch (process) and rows per ClickHouse write (sink).",
    ),
    prom_timeseries(
        "Batch time",
        (
            "{{stage}} p50",
            "histogram_quantile(0.5, sum by (stage, le) "
            f"(rate(veille_batch_seconds_bucket[{RATE}])))",
        ),
        (
            "{{stage}} p90",
            "histogram_quantile(0.9, sum by (stage, le) "
            f"(rate(veille_batch_seconds_bucket[{RATE}])))",
        ),
        unit="s",
        description="Enrichment time of a batch (process), write time of a batch (sink).",
    ),
    prom_timeseries(
        "Backoff",
        ("sink: ClickHouse", "max(veille_sink_backoff_seconds)"),
        ("X stream: {{kind}}", "max by (kind) (veille_x_stream_backoff_seconds)"),
        ("X stream at its longest wait", "max(veille_x_stream_backoff_at_max)"),
        unit="s",
        description="Current waits before retrying: the sink's ClickHouse writes, X's filtered "
        "stream (network and HTTP schedules); 0 while healthy. At its longest wait (1) the "
        "stream needs a person.",
    ),
    prom_timeseries(
        "X posts read",
        ("today", "max(veille_x_reads_today)"),
        ("this month", "max(veille_x_reads_month)"),
        ("monthly budget", "max(veille_x_budget_posts)"),
        description="Billed reads of X posts (UTC day and month) against the monthly budget.",
    ),
]

PIPELINE = Dashboard(
    "veille-pipeline-health",
    "veille — Pipeline health",
    "Is veille keeping up: live rates, lag, dead letters, batches, backoff and X usage from "
    "the stages' metrics (Prometheus); posts stored, delays and dead letters from ClickHouse.",
    [
        *LIVE,
        stat(
            "Posts stored",
            sql(
                f"""
SELECT count() AS stored
FROM posts FINAL
WHERE $__timeFilter(stored_at) AND {RECENT_PARTITIONS}
"""
            ),
        ),
        stat(
            "Since the last post stored",
            sql(
                """
SELECT dateDiff('second', max(stored_at), now64(3)) AS seconds
FROM posts
WHERE created_at >= now() - INTERVAL 7 DAY
"""
            ),
            unit="s",
        ),
        stat(
            "Dead letters",
            sql(
                """
SELECT count() AS dead_letters
FROM dead_letters FINAL
WHERE $__timeFilter(failed_at)
"""
            ),
            defaults={
                "thresholds": {
                    "mode": "absolute",
                    "steps": [{"color": "green", "value": None}, {"color": "red", "value": 1}],
                }
            },
        ),
        stat(
            "X cost this month",
            named(
                "x_usage",
                "SELECT\n    argMax(cost_month_usd, day) AS cost_usd,\n"
                "    argMax(reads_month, day) / argMax(budget_posts, day) AS budget_used\n"
                "FROM ({q})",
            ),
            units={"cost_usd": "currencyUSD", "budget_used": "percentunit"},
            description="Cost of the posts read from X this month, and the share of the "
            "monthly budget used (empty without a budget).",
        ),
        timeseries(
            "Posts stored per minute",
            sql(
                f"""
SELECT
    $__timeInterval(stored_at) AS time,
    toString(source) AS source,
    count() * 60 / $__interval_s AS posts_per_minute
FROM posts FINAL
WHERE $__timeFilter(stored_at) AND {RECENT_PARTITIONS}
GROUP BY time, source
ORDER BY time, source
"""
            ),
            description="Posts written to ClickHouse per minute, by source (each post once).",
        ),
        timeseries(
            "Ingest lag: received - created",
            _lag_over_time(_lag("created_at", "received_at", "", "p50", "p90", "p99")),
            unit="s",
            description="From publication on X to veille's ingest (stream delay, backfills).",
        ),
        timeseries(
            "Pipeline lag: enriched and stored - received",
            _lag_over_time(
                _lag("received_at", "enriched_at", "enriched_", "p50", "p90"),
                _lag("received_at", "stored_at", "stored_", "p50", "p90", "p99"),
            ),
            unit="s",
            description="Inside veille: from ingest to enrichment, and to ClickHouse.",
        ),
        timeseries(
            "Dead letters per stage and reason",
            sql(
                """
SELECT
    $__timeInterval(failed_at) AS time,
    concat(toString(stage), ': ', substring(reason, 1, 60)) AS reason,
    count() AS records
FROM dead_letters FINAL
WHERE $__timeFilter(failed_at)
GROUP BY time, reason
ORDER BY time, reason
"""
            ),
            bars=True,
        ),
        table(
            "Latest dead letters",
            sql(
                """
SELECT
    failed_at,
    stage,
    source,
    topic,
    partition,
    offset,
    reason,
    substring(toValidUTF8(payload), 1, 200) AS payload
FROM dead_letters FINAL
WHERE $__timeFilter(failed_at)
ORDER BY failed_at DESC
LIMIT 100
"""
            ),
            w=24,
        ),
        timeseries(
            "X reads per day",
            sql(
                """
SELECT toDateTime(day, 'UTC') AS time, reads_day, duplicates_day, x_reported_day
FROM x_usage FINAL
WHERE $__dateFilter(day)
ORDER BY time
"""
            ),
            bars=True,
            description="Posts billed each UTC day, posts read again that day (not billed), and "
            "X's own count of the day's billed posts (read daily).",
        ),
        table(
            "X usage this month",
            named("x_usage"),
            description=queries.get("x_usage").description,
        ),
        table(
            "X cost forecast per watch item",
            named("x_forecast"),
            description=queries.get("x_forecast").description,
        ),
    ],
    time_from="now-6h",
    variables=[],
)
