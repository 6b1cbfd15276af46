"""Builds veille's Grafana dashboards (`deploy/grafana/dashboards/*.json`) from this description.

Panels either reuse a named trend query (`sinks/queries/NAME.sql`) or carry their own SQL, both
on ClickHouse; the live panels of Pipeline health carry PromQL over the stages' metrics
(`veille/metrics.py`, through Prometheus). A named query's `{name:Type}` parameters become what
the ClickHouse datasource plugin understands:

    {start:DateTime}     -> $__fromTime              (the dashboard's time range)
    {end:DateTime}       -> $__toTime
    {interval_s:UInt32}  -> $__interval_s            (Grafana's interval, in seconds)
    {entry:String}       -> ${entry:singlequote}     (the dashboard's `entry` variable)
    anything else        -> the value the panel gives, else the parameter's default

so a dashboard and `veille query` run the same SQL. The committed JSON is this script's output:
edit the description here, run it, commit both; tests/deploy/test_grafana.py fails when they
differ, and runs every panel's SQL against chDB.

    python deploy/grafana/build.py           # rewrite the dashboards
    python deploy/grafana/build.py --check   # exit 1 if a committed dashboard differs
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sinks import queries

HERE = Path(__file__).resolve().parent
DASHBOARDS = HERE / "dashboards"
# Where the Grafana container sees deploy/grafana/dashboards (the dashboards provider's path).
GRAFANA_DASHBOARDS_DIR = "/var/lib/grafana/dashboards/veille"

DATASOURCE = {"type": "grafana-clickhouse-datasource", "uid": "veille-clickhouse"}
PROMETHEUS = {"type": "prometheus", "uid": "veille-prometheus"}
TIMESERIES, TABLE = 0, 1  # the plugin's `format` values (sqlutil.FormatQueryOption)

# Grafana's `singlequote` format quotes the value and escapes ' as \' (ClickHouse's escape).
ENTRY = "${entry:singlequote}"
ENTRY_ROLLUP = f"({ENTRY} = '' OR entry = {ENTRY})"
ENTRY_POSTS = f"({ENTRY} = '' OR has(entries, {ENTRY}))"

# Named-query parameters that the dashboard itself provides, by (name, type).
_FROM_DASHBOARD = {
    ("start", "DateTime"): "$__fromTime",
    ("end", "DateTime"): "$__toTime",
    ("interval_s", "UInt32"): "$__interval_s",
    ("entry", "String"): ENTRY,
}
_PLACEHOLDER = re.compile(r"\{(\w+):([^{}]+)\}")


class Sql(str):
    """A parameter value that is an SQL expression, put in the query as it is."""


def _literal(value: Any, type_: str) -> str:
    if isinstance(value, Sql):
        return str(value)
    if type_ == "String":
        return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"
    if re.fullmatch(r"U?Int\d+|Float\d+", type_):
        return str(float(value) if type_.startswith("Float") else int(value))
    if type_ == "DateTime":
        return f"toDateTime('{value}', 'UTC')"
    raise ValueError(f"no literal for type {type_}")


def named(name: str, wrap: str | None = None, **values: Any) -> str:
    """The SQL of the named query `name` for a dashboard with an `entry` variable.

    `values` override parameters (Python values, or `Sql` expressions); `wrap` is an outer query
    in which `{q}` stands for the named query. Raises `ValueError` on an unknown parameter.
    """
    q = queries.get(name)
    params = {p.name: p for p in q.params}
    unknown = set(values) - set(params)
    if unknown:
        raise ValueError(f"{name} has no parameter {sorted(unknown)}")

    def replace(m: re.Match[str]) -> str:
        pname, ptype = m.group(1), m.group(2)
        if pname not in params or params[pname].type != ptype:
            raise ValueError(f"{name}: {m.group(0)} is not a declared parameter")
        if pname in values:
            return _literal(values[pname], ptype)
        if (pname, ptype) in _FROM_DASHBOARD:
            return _FROM_DASHBOARD[(pname, ptype)]
        return _literal(params[pname].default, ptype)

    body = "\n".join(line for line in q.sql.splitlines() if not line.startswith("--")).strip()
    body = _PLACEHOLDER.sub(replace, body)
    if wrap is not None:
        body = wrap.replace("{q}", "\n" + body + "\n")
    return f"-- veille query {name} (sinks/queries/{name}.sql)\n{body}"


def sql(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


@dataclass
class Panel:
    title: str
    type: str
    sql: str
    w: int = 12
    h: int = 8
    description: str = ""
    unit: str | None = None
    interval: str | None = None
    bars: bool = False
    options: dict[str, Any] = field(default_factory=dict)
    custom: dict[str, Any] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)  # column -> unit, where they differ
    promql: list[tuple[str, str]] = field(default_factory=list)  # (legend, expr): Prometheus

    @property
    def format(self) -> int:
        return TIMESERIES if self.type == "timeseries" else TABLE


def prom_timeseries(title: str, *targets: tuple[str, str], **kw: Any) -> Panel:
    """A time series of PromQL `(legend, expr)` targets, on veille's Prometheus."""
    return Panel(title, "timeseries", "", promql=list(targets), **kw)


def prom_stat(title: str, *targets: tuple[str, str], **kw: Any) -> Panel:
    """Current values (instant queries) of PromQL `(legend, expr)` targets."""
    kw.setdefault("w", 6)
    kw.setdefault("h", 4)
    return Panel(title, "stat", "", promql=list(targets), **kw)


def timeseries(title: str, text: str, **kw: Any) -> Panel:
    kw.setdefault("interval", "1m")
    return Panel(title, "timeseries", text, **kw)


def table(title: str, text: str, **kw: Any) -> Panel:
    return Panel(title, "table", text, **kw)


def stat(title: str, text: str, **kw: Any) -> Panel:
    kw.setdefault("w", 6)
    kw.setdefault("h", 4)
    return Panel(title, "stat", text, **kw)


def pie(title: str, text: str, value: str, **kw: Any) -> Panel:
    kw["options"] = {"reduceOptions": {"values": True, "calcs": [], "fields": f"/^{value}$/"}}
    return Panel(title, "piechart", text, **kw)


def bargauge(title: str, text: str, value: str, **kw: Any) -> Panel:
    kw["options"] = {"reduceOptions": {"values": True, "calcs": [], "fields": f"/^{value}$/"}}
    return Panel(title, "bargauge", text, **kw)


_OPTIONS: dict[str, dict[str, Any]] = {
    "timeseries": {
        "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
        "tooltip": {"mode": "multi", "sort": "desc"},
    },
    "table": {"showHeader": True, "cellHeight": "sm", "footer": {"show": False}},
    "stat": {
        "reduceOptions": {"values": False, "calcs": ["lastNotNull"], "fields": ""},
        "colorMode": "value",
        "graphMode": "none",
        "justifyMode": "auto",
        "orientation": "auto",
        "textMode": "value_and_name",
    },
    "piechart": {
        "pieType": "donut",
        "displayLabels": ["percent"],
        "legend": {"displayMode": "table", "placement": "right", "showLegend": True},
        "tooltip": {"mode": "single"},
    },
    "bargauge": {"orientation": "horizontal", "displayMode": "basic", "showUnfilled": True},
}


def _custom(p: Panel) -> dict[str, Any]:
    if p.type == "timeseries":
        if p.bars:
            return {"drawStyle": "bars", "fillOpacity": 60, "lineWidth": 1, "showPoints": "never"}
        return {
            "drawStyle": "line",
            "fillOpacity": 10,
            "lineWidth": 1,
            "showPoints": "never",
            "spanNulls": True,
        }
    if p.type == "table":
        return {"align": "auto", "filterable": True}
    return {}


def _targets(p: Panel) -> list[dict[str, Any]]:
    if p.promql:
        instant = p.type == "stat"
        return [
            {
                "refId": chr(ord("A") + i),
                "datasource": PROMETHEUS,
                "editorMode": "code",
                "expr": expr,
                "legendFormat": legend,
                "range": not instant,
                "instant": instant,
            }
            for i, (legend, expr) in enumerate(p.promql)
        ]
    return [
        {
            "refId": "A",
            "datasource": DATASOURCE,
            "editorType": "sql",
            "queryType": "timeseries" if p.format == TIMESERIES else "table",
            "format": p.format,
            "rawSql": p.sql,
        }
    ]


def _panel_json(p: Panel, pid: int, pos: dict[str, int]) -> dict[str, Any]:
    custom = _custom(p)
    defaults: dict[str, Any] = {"custom": custom | p.custom} if custom or p.custom else {}
    if p.unit:
        defaults["unit"] = p.unit
    defaults |= p.defaults
    panel: dict[str, Any] = {
        "id": pid,
        "type": p.type,
        "title": p.title,
        "description": p.description,
        "gridPos": pos,
        "datasource": PROMETHEUS if p.promql else DATASOURCE,
    }
    if p.interval:
        panel["interval"] = p.interval
    panel |= {
        "fieldConfig": {
            "defaults": defaults,
            "overrides": [
                {
                    "matcher": {"id": "byName", "options": column},
                    "properties": [{"id": "unit", "value": unit}],
                }
                for column, unit in p.units.items()
            ],
        },
        "options": _OPTIONS[p.type] | p.options,
        "targets": _targets(p),
    }
    return panel


def _layout(panels: list[Panel]) -> list[dict[str, Any]]:
    out, x, y, row_h = [], 0, 0, 0
    for i, p in enumerate(panels, start=1):
        if x + p.w > 24:
            x, y, row_h = 0, y + row_h, 0
        out.append(_panel_json(p, i, {"h": p.h, "w": p.w, "x": x, "y": y}))
        x, row_h = x + p.w, max(row_h, p.h)
    return out


ENTRY_VARIABLE = {
    "name": "entry",
    "label": "Entry",
    "description": "A watch entry (brand, competitor, partner, supplier); All: every post.",
    "type": "query",
    "datasource": DATASOURCE,
    # Two columns: the plugin takes the first as the value, the second as the text. The All
    # option is a row of its own whose value is '', which every query reads as "no filter".
    "query": {
        "refId": "entry",
        "editorType": "sql",
        "format": TABLE,
        "rawSql": sql(
            """
SELECT value, text
FROM
(
    SELECT '' AS value, 'All' AS text
    UNION ALL
    SELECT DISTINCT toString(entry) AS value, toString(entry) AS text
    FROM mentions_1m
    WHERE entry != ''
)
ORDER BY value != '', text
"""
        ),
    },
    "current": {"selected": True, "text": "All", "value": ""},
    "options": [],
    "refresh": 1,
    "sort": 0,
    "includeAll": False,
    "multi": False,
    "hide": 0,
    "regex": "",
    "skipUrlSync": False,
}
ENTRY_VARIABLE["definition"] = ENTRY_VARIABLE["query"]["rawSql"]  # type: ignore[index]


@dataclass
class Dashboard:
    uid: str
    title: str
    description: str
    panels: list[Panel]
    time_from: str = "now-24h"
    variables: list[dict[str, Any]] = field(default_factory=lambda: [ENTRY_VARIABLE])
    annotations: list[dict[str, Any]] = field(default_factory=list)

    @property
    def filename(self) -> str:
        return self.uid.removeprefix("veille-") + ".json"

    def to_json(self) -> dict[str, Any]:
        builtin = {
            "builtIn": 1,
            "datasource": {"type": "grafana", "uid": "-- Grafana --"},
            "enable": True,
            "hide": True,
            "iconColor": "rgba(0, 211, 255, 1)",
            "name": "Annotations & Alerts",
            "type": "dashboard",
        }
        return {
            "id": None,
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": ["veille"],
            "timezone": "utc",
            "editable": True,
            "graphTooltip": 1,
            "fiscalYearStartMonth": 0,
            "liveNow": False,
            "refresh": "1m",
            "schemaVersion": 39,
            "version": 1,
            "time": {"from": self.time_from, "to": "now"},
            "timepicker": {},
            "links": [
                {
                    "type": "dashboards",
                    "title": "veille",
                    "tags": ["veille"],
                    "asDropdown": True,
                    "includeVars": True,
                    "keepTime": True,
                }
            ],
            "annotations": {"list": [builtin, *self.annotations]},
            "templating": {"list": self.variables},
            "panels": _layout(self.panels),
        }


def _per(column: str, measure: str, where: str) -> str:
    """Rollup minutes per time bucket and `column` (one series per value)."""
    return sql(
        f"""
SELECT $__timeInterval(minute) AS time, toString({column}) AS {column}, {measure}
FROM mentions_1m
WHERE $__timeFilter(minute) AND {where} AND {ENTRY_ROLLUP}
GROUP BY time, {column}
ORDER BY time, {column}
"""
    )


NEGATIVE = "groupBitmapMergeIf(posts, sentiment = 'negative')"
POSITIVE = "groupBitmapMergeIf(posts, sentiment = 'positive')"
ALL_POSTS = "groupBitmapMerge(posts)"

OVERVIEW = Dashboard(
    "veille-overview",
    "veille — Overview",
    "What is said about the watch entries: volume, sentiment, share of voice, what emerges.",
    [
        stat(
            "Posts",
            sql(
                f"""
SELECT {ALL_POSTS} AS posts
FROM mentions_1m
WHERE $__timeFilter(minute) AND {ENTRY_ROLLUP}
"""
            ),
            description="Posts in the time range, each counted once.",
        ),
        stat(
            "Authors",
            sql(
                f"""
SELECT uniqMerge(authors) AS authors
FROM mentions_1m
WHERE $__timeFilter(minute) AND {ENTRY_ROLLUP}
"""
            ),
            description="Distinct authors (approximate, uniq).",
        ),
        stat(
            "Share negative",
            sql(
                f"""
SELECT round({NEGATIVE} / greatest({ALL_POSTS}, 1), 3) AS share_negative
FROM mentions_1m
WHERE $__timeFilter(minute) AND {ENTRY_ROLLUP}
"""
            ),
            unit="percentunit",
        ),
        stat(
            "Net sentiment",
            sql(
                f"""
SELECT round(({POSITIVE} - {NEGATIVE}) / greatest({ALL_POSTS}, 1), 3) AS net_sentiment
FROM mentions_1m
WHERE $__timeFilter(minute) AND {ENTRY_ROLLUP}
"""
            ),
            description="(positive - negative) / posts, from -1 to 1.",
            defaults={"min": -1, "max": 1, "decimals": 2},
        ),
        timeseries(
            "Posts over time",
            named("mentions_over_time"),
            description=queries.get("mentions_over_time").description,
        ),
        timeseries(
            "Posts per entry",
            _per("entry", f"{ALL_POSTS} AS posts", "entry != ''"),
        ),
        timeseries(
            "Net sentiment per entry",
            _per(
                "entry",
                f"round(({POSITIVE} - {NEGATIVE}) / {ALL_POSTS}, 3) AS net_sentiment",
                "entry != ''",
            ),
            description="(positive - negative) / posts per bucket, from -1 to 1.",
            defaults={"min": -1, "max": 1},
        ),
        timeseries("Posts per topic", _per("topic", f"{ALL_POSTS} AS posts", "topic != ''")),
        timeseries("Posts per language", _per("lang", f"{ALL_POSTS} AS posts", "1")),
        pie(
            "Language mix",
            named("language_mix"),
            "posts",
            description=queries.get("language_mix").description,
        ),
        pie(
            "Share of voice",
            named("share_of_voice", "SELECT entry, posts\nFROM ({q})"),
            "posts",
            description=queries.get("share_of_voice").description,
        ),
        table(
            "Sentiment by entry",
            named("sentiment_by_brand"),
            description=queries.get("sentiment_by_brand").description,
        ),
        table(
            "Emerging terms (last hour vs the 24 hours before)",
            named("emerging_terms"),
            description=queries.get("emerging_terms").description,
        ),
        bargauge(
            "Top hashtags",
            named("top_hashtags"),
            "posts",
            description=queries.get("top_hashtags").description,
        ),
        table(
            "Top authors by reach",
            named("top_authors"),
            description=queries.get("top_authors").description,
        ),
        table(
            "Most mentioned accounts",
            named("top_mentions"),
            description=queries.get("top_mentions").description,
        ),
        table("Most shared links", named("top_links"), w=24),
        table(
            "Latest posts",
            named("recent_posts", limit=100),
            w=24,
            h=10,
            description=queries.get("recent_posts").description,
        ),
    ],
)

CARE_ASKS = sql(
    f"""
SELECT $__timeInterval(created_at) AS time, toString(intent) AS intent, count() AS posts
FROM posts FINAL
WHERE $__timeFilter(created_at)
  AND intent IN ('question', 'complaint', 'request') AND kind != 'retweet' AND author_entry = ''
  AND {ENTRY_POSTS}
GROUP BY time, intent
ORDER BY time, intent
"""
)

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
            CARE_ASKS,
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

ALERT_ANNOTATIONS = {
    "name": "veille alerts",
    "enable": True,
    "hide": False,
    "iconColor": "red",
    "datasource": DATASOURCE,
    "target": {
        "refId": "alerts",
        "editorType": "sql",
        "format": TABLE,
        "rawSql": sql(
            f"""
SELECT
    created_at AS time,
    concat(title, if(detail != '', concat(': ', detail), '')) AS text,
    concat(toString(kind), ',', toString(severity)) AS tags
FROM alerts FINAL
WHERE $__timeFilter(created_at) AND ({ENTRY} = '' OR entry = {ENTRY})
ORDER BY time
"""
        ),
    },
}

CRISIS = Dashboard(
    "veille-crisis-alerts",
    "veille — Crisis and alerts",
    "Early warning: alerts (volume spikes, sentiment dips, impersonation, budget) and negative "
    "volume per entry.",
    [
        stat(
            "Alerts in range",
            sql(
                f"""
SELECT
    countIf(severity = 'critical') AS critical,
    countIf(severity = 'warning') AS warning,
    countIf(severity = 'info') AS info
FROM alerts FINAL
WHERE $__timeFilter(created_at) AND ({ENTRY} = '' OR entry = {ENTRY})
"""
            ),
            w=8,
        ),
        stat(
            "Negative posts",
            sql(
                f"""
SELECT {NEGATIVE} AS negative
FROM mentions_1m
WHERE $__timeFilter(minute) AND {ENTRY_ROLLUP}
"""
            ),
            w=8,
        ),
        stat(
            "Share negative",
            sql(
                f"""
SELECT round({NEGATIVE} / greatest({ALL_POSTS}, 1), 3) AS share_negative
FROM mentions_1m
WHERE $__timeFilter(minute) AND {ENTRY_ROLLUP}
"""
            ),
            unit="percentunit",
            w=8,
        ),
        timeseries(
            "Negative posts per entry",
            _per("entry", f"{NEGATIVE} AS negative", "entry != ''"),
            bars=True,
        ),
        timeseries(
            "Share negative per entry",
            _per("entry", f"round({NEGATIVE} / {ALL_POSTS}, 3) AS share_negative", "entry != ''"),
            unit="percentunit",
            defaults={"min": 0, "max": 1},
        ),
        table(
            "Latest alerts",
            named("alerts"),
            w=24,
            h=9,
            description=queries.get("alerts").description,
        ),
        table("Impersonation", named("alerts", kind="impersonation")),
        table("Latest negative posts", named("recent_posts", sentiment="negative", limit=50)),
    ],
    annotations=[ALERT_ANNOTATIONS],
)

IN_ENTRY = f"({ENTRY} = '' OR entry = {ENTRY})"

AUDIENCE = Dashboard(
    "veille-audience",
    "veille — Audience",
    "Followers of the watched accounts (the brands' and the competitors') and how they grow.",
    [
        timeseries(
            "Followers per account",
            sql(
                f"""
SELECT
    $__timeInterval(observed_at) AS time,
    username,
    argMax(followers_count, observed_at) AS followers
FROM account_metrics
WHERE $__timeFilter(observed_at) AND ({ENTRY} = '' OR entry = {ENTRY})
GROUP BY time, username
ORDER BY time, username
"""
            ),
            w=24,
            h=9,
            description="The last reading of each account in each bucket.",
        ),
        table(
            "Growth in the time range",
            named("audience_growth", f"SELECT *\nFROM ({{q}})\nWHERE {IN_ENTRY}"),
            description=queries.get("audience_growth").description,
        ),
        bargauge(
            "Followers gained per day",
            named(
                "audience_growth",
                f"SELECT username, growth_per_day\nFROM ({{q}})\nWHERE {IN_ENTRY}\n"
                "ORDER BY growth_per_day DESC, username",
            ),
            "growth_per_day",
        ),
    ],
    time_from="now-30d",
)

# Posts carry created_at as their partition key: bound it too, so that a panel over recent
# pipeline times reads recent partitions only (X's recent search reaches back 7 days).
RECENT_PARTITIONS = "created_at >= $__fromTime - INTERVAL 7 DAY"

# Grafana's rate window: at least four scrape intervals (the datasource's timeInterval).
RATE = "$__rate_interval"

# Live panels, from the stages' metrics in Prometheus (veille/metrics.py, docs/observability.md).
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
            sql(
                f"""
SELECT
    $__timeInterval(received_at) AS time,
    quantile(0.5)(dateDiff('millisecond', created_at, received_at)) / 1000 AS p50,
    quantile(0.9)(dateDiff('millisecond', created_at, received_at)) / 1000 AS p90,
    quantile(0.99)(dateDiff('millisecond', created_at, received_at)) / 1000 AS p99
FROM posts FINAL
WHERE $__timeFilter(received_at) AND {RECENT_PARTITIONS}
GROUP BY time
ORDER BY time
"""
            ),
            unit="s",
            description="From publication on X to veille's ingest (stream delay, backfills).",
        ),
        timeseries(
            "Pipeline lag: enriched and stored - received",
            sql(
                f"""
SELECT
    $__timeInterval(received_at) AS time,
    quantile(0.5)(dateDiff('millisecond', received_at, enriched_at)) / 1000 AS enriched_p50,
    quantile(0.9)(dateDiff('millisecond', received_at, enriched_at)) / 1000 AS enriched_p90,
    quantile(0.5)(dateDiff('millisecond', received_at, stored_at)) / 1000 AS stored_p50,
    quantile(0.9)(dateDiff('millisecond', received_at, stored_at)) / 1000 AS stored_p90,
    quantile(0.99)(dateDiff('millisecond', received_at, stored_at)) / 1000 AS stored_p99
FROM posts FINAL
WHERE $__timeFilter(received_at) AND {RECENT_PARTITIONS}
GROUP BY time
ORDER BY time
"""
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
SELECT toDateTime(day, 'UTC') AS time, reads_day, duplicates_day
FROM x_usage FINAL
WHERE $__dateFilter(day)
ORDER BY time
"""
            ),
            bars=True,
            description="Posts billed each UTC day, and posts read again that day (not billed).",
        ),
        table(
            "X usage this month",
            named("x_usage"),
            description=queries.get("x_usage").description,
        ),
    ],
    time_from="now-6h",
    variables=[],
)

ALL = [OVERVIEW, CUSTOMER_CARE, CRISIS, AUDIENCE, PIPELINE]


def render() -> dict[str, str]:
    """File name -> JSON text of every dashboard, exactly as committed."""
    return {d.filename: json.dumps(d.to_json(), indent=2, ensure_ascii=False) + "\n" for d in ALL}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare, write nothing")
    args = parser.parse_args(argv)
    stale = []
    for name, text in render().items():
        path = DASHBOARDS / name
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        stale.append(name)
        if not args.check:
            DASHBOARDS.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    extra = sorted(p.name for p in DASHBOARDS.glob("*.json") if p.name not in render())
    if args.check:
        for name in stale:
            print(f"{name} differs from build.py's output: run python {Path(__file__).name}")
        for name in extra:
            print(f"{name} is not built by build.py")
        return 1 if stale or extra else 0
    for name in stale:
        print(f"wrote {DASHBOARDS / name}")
    for name in extra:
        print(f"warning: {name} is not built by build.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
