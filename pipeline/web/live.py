"""What the live page shows, read through the named queries and the stages' status files.

`collect(client, view, run_dir)` reads one snapshot: the period (`view.since` ending at the
newest stored post, in event time, as the report does, so that simulated and replayed data look
like live data), the volume per sentiment and per watch entry, share of voice, emerging terms,
the care queue, alerts, recent posts (filtered by entry, sentiment, intent and language), X
usage, and each stage's status. Every value from the store is passed on raw; the page escapes.
Filters are bound as ClickHouse parameters by the named queries, never formatted into SQL.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sinks import queries
from sinks.report.collect import emerging_terms
from sinks.report.period import Period, parse_since, parse_time, period_ending_at_newest
from veille.stats import read_status

Row = dict[str, Any]
SINCE_CHOICES = ("1h", "6h", "24h", "7d", "30d")
SENTIMENTS = ("negative", "neutral", "positive")
INTENTS = ("question", "complaint", "request", "praise", "other")
MAX_ENTRY_SERIES = 6
CARE_LIMIT = 200


@dataclass(frozen=True)
class View:
    """What the user asked to see: the period length and the filters ('' for all)."""

    since: str = "24h"
    entry: str = ""
    sentiment: str = ""
    intent: str = ""
    lang: str = ""

    @classmethod
    def from_query(cls, query: Any) -> View:
        """A view from URL parameters; unknown or malformed values fall back to the defaults
        (free text such as the entry is kept: it is only ever bound as a parameter)."""
        since = str(query.get("since", "24h"))
        sentiment = str(query.get("sentiment", ""))
        intent = str(query.get("intent", ""))
        return cls(
            since=since if since in SINCE_CHOICES else "24h",
            entry=str(query.get("entry", ""))[:200],
            sentiment=sentiment if sentiment in SENTIMENTS else "",
            intent=intent if intent in INTENTS else "",
            lang=str(query.get("lang", ""))[:8],
        )

    def query(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v}


@dataclass
class StageHealth:
    """One stage's last status, with rates computed between two snapshots."""

    name: str
    state: str
    figures: dict[str, Any]
    rates: dict[str, float] = field(default_factory=dict)
    age_s: float | None = None


@dataclass
class LiveData:
    view: View
    period: Period
    bucket_s: int
    stored_posts: int = 0
    dead_letters: int = 0
    timeline: list[Row] = field(default_factory=list)
    per_entry: dict[str, list[Row]] = field(default_factory=dict)
    share_of_voice: list[Row] = field(default_factory=list)
    sentiment_by_entry: list[Row] = field(default_factory=list)
    emerging_terms: list[Row] = field(default_factory=list)
    care_queue: list[Row] = field(default_factory=list)
    alerts: list[Row] = field(default_factory=list)
    recent_posts: list[Row] = field(default_factory=list)
    languages: list[Row] = field(default_factory=list)
    x_usage: list[Row] = field(default_factory=list)
    x_forecast: list[Row] = field(default_factory=list)
    emerging_window_h: int = 1
    stages: list[StageHealth] = field(default_factory=list)
    read_at: float = 0.0

    @property
    def posts_in_period(self) -> int:
        return sum(int(r["posts"]) for r in self.timeline)

    @property
    def negative_in_period(self) -> int:
        return sum(int(r["negative"]) for r in self.timeline)


_run = queries.rows


def _scalar(client: Any, sql: str) -> int:
    return int(client.query(sql).result_rows[0][0])


# counters whose rate per second the health panel shows, per stage
RATE_KEYS = ("ingested", "produced", "consumed", "enriched", "posts", "dead_letters", "inserts")


def stage_health(
    run_dir: Path | None, previous: dict[str, tuple[float, dict[str, Any]]]
) -> list[StageHealth]:
    """Each stage's status file in `run_dir` (sorted: ingest, process*, sink), with rates
    against `previous` (name -> (time, figures)), which is updated in place."""
    if run_dir is None or not run_dir.is_dir():
        return []
    now = time.time()
    out = []
    order = {"ingest": 0, "sink": 2}
    paths = sorted(run_dir.glob("*.json"), key=lambda p: (order.get(p.stem, 1), p.stem))
    for path in paths:
        st = read_status(path)
        if not st or "stage" not in st:
            continue
        figures = {k: v for k, v in st.items() if k not in ("stage", "state", "pid", "updated_at")}
        health = StageHealth(path.stem, str(st.get("state", "?")), figures)
        updated = st.get("updated_at")
        if isinstance(updated, int | float):
            health.age_s = max(0.0, now - float(updated))
        before = previous.get(path.stem)
        if before is not None and now - before[0] > 0.5:
            for key in RATE_KEYS:
                a, b = before[1].get(key), figures.get(key)
                if isinstance(a, int | float) and isinstance(b, int | float):
                    health.rates[key] = max(0.0, (b - a) / (now - before[0]))
        if before is None or now - before[0] > 0.5:
            previous[path.stem] = (now, figures)
        out.append(health)
    return out


def collect(
    client: Any,
    view: View,
    run_dir: Path | None = None,
    previous: dict[str, tuple[float, dict[str, Any]]] | None = None,
) -> LiveData:
    """One snapshot of everything the page shows. Raises `QueryError` when the store refuses
    a query (the store down, a table missing)."""
    period = period_ending_at_newest(client, parse_since(view.since))
    bucket_s = period.bucket_s()
    span = period.params
    d = LiveData(view=view, period=period, bucket_s=bucket_s, read_at=time.time())
    d.stored_posts = _scalar(client, "SELECT uniqExact(id) FROM posts")
    d.dead_letters = _scalar(client, "SELECT uniqExact(id) FROM dead_letters")
    d.timeline = _run(
        client, "mentions_over_time", {**span, "entry": view.entry, "interval_s": str(bucket_s)}
    )
    d.sentiment_by_entry = _run(client, "sentiment_by_brand", span)
    d.share_of_voice = _run(client, "share_of_voice", span)
    top = [r["entry"] for r in d.sentiment_by_entry][:MAX_ENTRY_SERIES]
    for entry in top:
        d.per_entry[entry] = _run(
            client, "mentions_over_time", {**span, "entry": entry, "interval_s": str(bucket_s)}
        )
    d.emerging_window_h, _, d.emerging_terms = emerging_terms(client, period, view.entry, 12)
    d.care_queue = _run(client, "care_queue", {"entry": view.entry, "limit": str(CARE_LIMIT)})
    alerts = _run(client, "alerts", {"entry": view.entry, "limit": "50"})
    d.alerts = [a for a in alerts if parse_time(a["created_at"]) >= period.start]
    d.recent_posts = _run(
        client,
        "recent_posts",
        {
            "entry": view.entry,
            "sentiment": view.sentiment,
            "intent": view.intent,
            "lang": view.lang,
            "limit": "25",
        },
    )
    d.languages = _run(client, "language_mix", span)
    d.x_usage = _run(client, "x_usage", {})
    d.x_forecast = _run(client, "x_forecast", {})
    d.stages = stage_health(run_dir, previous if previous is not None else {})
    return d
