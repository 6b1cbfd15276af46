"""The dashboard builder: panels and dashboards described in Python, rendered as Grafana JSON.

A panel either names a query of `sinks/queries/` (`named`) or carries its own SQL (`sql`), on
ClickHouse; the live panels carry PromQL over the stages' metrics, on Prometheus. A named
query's `{name:Type}` parameters become what the ClickHouse datasource plugin understands:

    {start:DateTime}     -> $__fromTime              (the dashboard's time range)
    {end:DateTime}       -> $__toTime
    {interval_s:UInt32}  -> $__interval_s            (Grafana's interval, in seconds)
    {entry:String}       -> ${entry:singlequote}     (the dashboard's `entry` variable)
    anything else        -> the value the panel gives, else the parameter's default

so a dashboard and `veille query` run the same SQL. Panels are laid out left to right in the
24-column grid, in the order given; `Dashboard.to_json` is what Grafana reads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sinks import queries

DATASOURCE = {"type": "grafana-clickhouse-datasource", "uid": "veille-clickhouse"}
PROMETHEUS = {"type": "prometheus", "uid": "veille-prometheus"}
TIMESERIES, TABLE = 0, 1  # the plugin's `format` values (sqlutil.FormatQueryOption)

# Grafana's `singlequote` format quotes the value and escapes ' as \' (ClickHouse's escape).
ENTRY = "${entry:singlequote}"
# The dashboard's entry as a filter, All ('') passing every row: on a table with an `entry`
# column (the rollup, alerts, accounts), and on posts (their `entries`).
IN_ENTRY = f"({ENTRY} = '' OR entry = {ENTRY})"
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
    """A panel's own SQL, trimmed (no blank first or last line, no trailing spaces)."""
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


@dataclass
class Panel:
    """One panel: its SQL (or PromQL targets), size in grid units and display options."""

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
    "description": (
        "A watch entry (brand, competitor, partner, supplier, sector item); All: every post."
    ),
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
    """A dashboard: its panels in reading order, its time range, variables and annotations; its
    file is named after its uid (`veille-overview` -> `overview.json`)."""

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
