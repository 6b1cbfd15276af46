"""The crisis and alerts dashboard: alerts (also drawn as annotations) and negative volume per
entry, for early warning."""

from __future__ import annotations

from typing import Any

from sinks import queries

from .builder import DATASOURCE, IN_ENTRY, TABLE, Dashboard, named, sql, stat, table, timeseries
from .rollup import NEGATIVE, SHARE_NEGATIVE, in_range, per_entry

# The alerts of the time range on every time series, each with its kind and severity as tags.
ALERT_ANNOTATIONS: dict[str, Any] = {
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
WHERE $__timeFilter(created_at) AND {IN_ENTRY}
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
WHERE $__timeFilter(created_at) AND {IN_ENTRY}
"""
            ),
            w=8,
        ),
        stat("Negative posts", in_range(f"{NEGATIVE} AS negative"), w=8),
        stat("Share negative", in_range(SHARE_NEGATIVE), unit="percentunit", w=8),
        timeseries("Negative posts per entry", per_entry("negative"), bars=True),
        timeseries(
            "Share negative per entry",
            per_entry("share_negative"),
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
