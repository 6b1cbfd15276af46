"""The live page's HTML: the report's building blocks and SVG charts, refreshed in place.

`page()` is the whole document (complete without a script: the panels are rendered on the
server); `panels()` is the part the page's script fetches again every few seconds. Every value
from the store goes through `markup.h` (escaped); charts escape their own labels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pipeline.web.live import CARE_LIMIT, INTENTS, SENTIMENTS, SINCE_CHOICES, LiveData, View
from sinks.report import charts
from sinks.report import markup as m
from sinks.report.period import parse_time
from sinks.report.sections.response import alerts_table

REFRESH_S = 10
SERIES_COLORS = ("#2b6cb0", "#d69e2e", "#805ad5", "#dd6b20", "#319795", "#b83280")


def _labels(times: list[datetime], bucket_s: int) -> tuple[list[str], list[tuple[int, str]]]:
    """Short labels for the buckets and the x-axis ticks: hours within a day or two, days
    beyond."""
    days = len(times) * bucket_s >= 2 * 86400
    fmt = "%d %b" if days else "%H:%M"
    labels = [f"{t:{fmt}}" for t in times]
    if days:
        starts = [i for i, t in enumerate(times) if i == 0 or t.date() != times[i - 1].date()]
        every = max(1, math.ceil(len(starts) / 8))
        return labels, [(i, labels[i]) for i in starts[::every]]
    every = max(1, math.ceil(len(times) / 8))
    return labels, [(i, labels[i]) for i in range(0, len(times), every)]


def _grid(d: LiveData) -> list[datetime]:
    first = int(d.period.start.timestamp()) // d.bucket_s * d.bucket_s
    end = int(d.period.end.timestamp())
    return [datetime.fromtimestamp(ts, UTC) for ts in range(first, end, d.bucket_s)]


def _kpis(d: LiveData) -> m.Markup:
    posts = d.posts_in_period
    negative = d.negative_in_period / posts if posts else None
    usage = d.x_usage[-1] if d.x_usage else None
    cards = [
        m.kpi("Posts stored", m.fmt_int(d.stored_posts), "in the store, each once"),
        m.kpi("Posts in period", m.fmt_int(posts), f"last {d.view.since}"),
        m.kpi("Negative", m.fmt_pct(negative), "share of the period's posts"),
        m.kpi(
            "Care queue",
            m.fmt_int(len(d.care_queue)) + ("+" if len(d.care_queue) >= CARE_LIMIT else ""),
            "waiting for an answer",
        ),
        m.kpi("Alerts", m.fmt_int(len(d.alerts)), "raised in the period"),
        m.kpi("Dead letters", m.fmt_int(d.dead_letters), "records that could not be used"),
    ]
    if usage is not None:
        cards.append(
            m.kpi(
                "X reads this month",
                m.fmt_int(usage["reads_month"]),
                f"budget {m.fmt_int(usage['budget_posts'])}"
                + (" · paused" if usage["paused"] else ""),
                "down-bad" if usage["paused"] else "",
            )
        )
    return m.Markup(f'<div class="kpis" id="kpis">{m.join(cards)}</div>')


def _timeline(d: LiveData) -> m.Markup:
    scope = f" about {d.view.entry}" if d.view.entry else ""
    sub = f"Unique posts{scope} per bucket, by sentiment (UTC, event time)."
    if not d.timeline:
        return m.section("Volume and sentiment", sub, m.nodata(), wide=True, sid="timeline")
    grid = _grid(d)
    found = {parse_time(r["time"]): r for r in d.timeline}
    rows = [found.get(t, {"posts": 0, "negative": 0, "positive": 0}) for t in grid]
    neg = [int(r["negative"]) for r in rows]
    pos = [int(r["positive"]) for r in rows]
    neu = [int(r["posts"]) - n - p for r, n, p in zip(rows, neg, pos, strict=True)]
    labels, ticks = _labels(grid, d.bucket_s)
    series = [
        charts.Series("negative", charts.NEGATIVE, neg),
        charts.Series("neutral", charts.NEUTRAL, neu),
        charts.Series("positive", charts.POSITIVE, pos),
    ]
    legend = m.legend([(s.name, s.color) for s in series])
    chart = charts.stacked_columns(labels, series, ticks, "Posts over time by sentiment")
    return m.section(
        "Volume and sentiment", sub, m.join([legend, m.Markup(chart)]), wide=True, sid="timeline"
    )


def _per_entry(d: LiveData) -> m.Markup:
    sub = "Posts per watch entry and bucket (the most discussed entries)."
    if not d.per_entry:
        return m.section("Mentions per entry", sub, m.nodata(), sid="per-entry")
    grid = _grid(d)
    labels, _ = _labels(grid, d.bucket_s)
    series = []
    for (entry, rows), color in zip(d.per_entry.items(), SERIES_COLORS, strict=False):
        found = {parse_time(r["time"]): int(r["posts"]) for r in rows}
        series.append(charts.Series(entry, color, [found.get(t, 0) for t in grid]))
    legend = m.legend([(s.name, s.color) for s in series])
    chart = charts.lines(labels, series, "Mentions per entry")
    net = m.table(
        ["Entry", "Posts", "Negative", "Net"],
        (
            [
                r["entry"],
                m.fmt_int(r["posts"]),
                m.fmt_pct(m.number(r["share_negative"])),
                m.fmt_signed(m.number(r["net_sentiment"])),
            ]
            for r in d.sentiment_by_entry[:8]
        ),
        num={1, 2, 3},
    )
    return m.section(
        "Mentions per entry", sub, m.join([legend, m.Markup(chart), net]), sid="per-entry"
    )


def _share_of_voice(d: LiveData) -> m.Markup:
    sub = "Brands' and competitors' posts as a share of all their posts, in the period."
    if not d.share_of_voice:
        return m.section("Share of voice", sub, m.nodata(), sid="share-of-voice")
    items = [
        (r["entry"], float(r["share"]), f"{m.fmt_pct(r['share'])} · {m.fmt_int(r['posts'])}")
        for r in d.share_of_voice
    ]
    chart = charts.hbars(items, "Share of voice", highlight=d.view.entry or None)
    return m.section("Share of voice", sub, m.Markup(chart), sid="share-of-voice")


def _emerging(d: LiveData) -> m.Markup:
    sub = (
        f"Terms and hashtags rising in the last {d.emerging_window_h} h against the hours "
        "before (lift = window / expected)."
    )
    if not d.emerging_terms:
        return m.section("Emerging terms", sub, m.nodata("Nothing emerging."), sid="emerging")
    table = m.table(
        ["Term", "Posts", "Expected", "Lift"],
        (
            [r["term"], m.fmt_int(r["posts_window"]), r["expected"], r["lift"]]
            for r in d.emerging_terms
        ),
        num={1, 2, 3},
    )
    return m.section("Emerging terms", sub, table, sid="emerging")


def _care(d: LiveData) -> m.Markup:
    sub = "Questions, complaints and requests to official accounts not answered yet, oldest first."
    if not d.care_queue:
        return m.section("Care queue", sub, m.nodata("Nothing waits for an answer."), sid="care")
    table = m.table(
        ["Waiting", "Since", "Who", "Post"],
        (
            [
                m.fmt_minutes(r["wait_minutes"]),
                (m.fmt_when(r["created_at"]), "when"),
                m.join(
                    [
                        f"@{r['author']}",
                        m.Markup('<br><small class="muted">'),
                        f"{r['intent']} to " + ", ".join(f"@{a}" for a in r["addressed"]),
                        m.Markup("</small>"),
                    ]
                ),
                (m.shorten(r["text"], 180), "text"),
            ]
            for r in d.care_queue[:12]
        ),
        num={0},
    )
    more = f" Showing 12 of {len(d.care_queue)}." if len(d.care_queue) > 12 else ""
    return m.section("Care queue", sub + more, table, sid="care")


def _alerts(d: LiveData) -> m.Markup:
    sub = "Crisis, impersonation and budget alerts raised in the period, newest first."
    if not d.alerts:
        return m.section("Alerts", sub, m.nodata("No alert in this period."), sid="alerts")
    table = alerts_table(d.alerts, 15)
    return m.section("Alerts", sub, table, wide=True, sid="alerts")


def _recent(d: LiveData) -> m.Markup:
    v = d.view
    active = [f"{k}: {val}" for k, val in v.query().items() if k != "since"]
    sub = "The latest posts, newest first" + (f" ({', '.join(active)})" if active else "") + "."
    if not d.recent_posts:
        return m.section("Recent posts", sub, m.nodata("No post matches."), wide=True, sid="recent")
    table = m.table(
        ["When", "Who", "Lang", "Sentiment", "Intent", "Entries", "Post"],
        (
            [
                (m.fmt_when(p["created_at"]), "when"),
                f"@{p['author']}",
                p["lang"],
                (p["sentiment"], {"negative": "neg", "positive": "pos"}.get(p["sentiment"], "")),
                p["intent"],
                ", ".join(p["entries"]) or "–",
                (m.shorten(p["text"], 220), "text"),
            ]
            for p in d.recent_posts
        ),
        num=set(),
    )
    return m.section("Recent posts", sub, table, wide=True, sid="recent")


def _health(d: LiveData) -> m.Markup:
    sub = "Each stage's state, counters and rates per second; X reads against the budget."
    parts: list[Any] = []
    if d.stages:
        rows = []
        for st in d.stages:
            figures = ", ".join(
                f"{k}={v}" for k, v in st.figures.items() if isinstance(v, int | float)
            )
            rates = ", ".join(f"{k} {v:,.0f}/s" for k, v in st.rates.items() if v > 0) or "–"
            age = "–" if st.age_s is None else f"{st.age_s:,.0f} s ago"
            rows.append([st.name, st.state, rates, age, (figures, "text")])
        parts.append(m.table(["Stage", "State", "Rates", "Updated", "Counters"], rows, num=set()))
        ingested = sum(int(s.figures.get("ingested", 0)) for s in d.stages if s.name == "ingest")
        written = sum(
            int(s.figures.get("posts", 0)) + int(s.figures.get("dead_letters", 0))
            for s in d.stages
            if s.name == "sink"
        )
        if ingested:
            parts.append(
                m.Markup(
                    f'<p class="sub" id="lag">In flight (ingested, not yet stored): '
                    f"<b>{m.h(m.fmt_int(max(0, ingested - written)))}</b></p>"
                )
            )
    else:
        parts.append(m.nodata("No stage status here (the store is read without a pipeline)."))
    if d.x_usage:
        parts.append(m.Markup("<h3>X usage this month</h3>"))
        parts.append(
            m.table(
                ["Day", "Reads", "X counts", "Month", "Cost (USD)", "Budget", "Paused"],
                (
                    [
                        u["day"],
                        m.fmt_int(u["reads_day"]),
                        m.fmt_int(u["x_reported_day"]),
                        m.fmt_int(u["reads_month"]),
                        f"{float(u['cost_month_usd']):,.2f}",
                        m.fmt_int(u["budget_posts"]),
                        "yes" if u["paused"] else "no",
                    ]
                    for u in d.x_usage[-7:]
                ),
                num={1, 2, 3, 4, 5},
            )
        )
    if d.x_forecast:
        billed = d.x_forecast[0]["billed_posts_per_day_7d"]
        parts.append(m.Markup("<h3>X cost forecast (posts counted by X over 7 days)</h3>"))
        parts.append(
            m.table(
                ["Watch item", "Rules", "Sample", "Posts/day", "USD/month", "Over budget"],
                (
                    [
                        f["tag"],
                        m.fmt_int(f["rules"]),
                        f"{f['sample_pct']} %" if f["sample_pct"] is not None else "",
                        m.fmt_int(round(float(f["posts_per_day"]))),
                        f"{float(f['cost_month_usd']):,.2f}",
                        "yes" if f["over_budget"] else "no",
                    ]
                    for f in d.x_forecast
                ),
                num={1, 3, 4},
            )
        )
        if billed is not None:
            per_day = m.h(m.fmt_int(round(float(billed))))
            parts.append(m.Markup(f"<p>Billed over the last 7 days: {per_day} posts/day.</p>"))
    return m.section("Pipeline health", sub, m.join(parts), wide=True, sid="health")


def panels(d: LiveData) -> m.Markup:
    """The refreshed part of the page: figures, charts and tables."""
    newest = f"{d.period.newest:%d %b %Y %H:%M:%S} UTC" if d.period.newest else "none yet"
    stamp = m.Markup(
        f'<p class="period" id="stamp">{m.h(d.period.describe())} · newest post {m.h(newest)} · '
        f"read {datetime.fromtimestamp(d.read_at, UTC):%H:%M:%S} UTC</p>"
    )
    sections = [
        _timeline(d),
        _per_entry(d),
        _share_of_voice(d),
        _emerging(d),
        _care(d),
        _alerts(d),
        _recent(d),
        _health(d),
    ]
    return m.join(
        [stamp, _kpis(d), m.Markup('<div class="grid">'), m.join(sections), m.Markup("</div>")]
    )


def _select(name: str, label: str, current: str, options: list[str]) -> m.Markup:
    opts = [m.Markup('<option value="">all</option>')] if name != "since" else []
    for o in options:
        sel = " selected" if o == current else ""
        opts.append(m.Markup(f'<option value="{m.h(o)}"{sel}>{m.h(o)}</option>'))
    return m.Markup(
        f'<label>{m.h(label)} <select name="{m.h(name)}">{m.join(opts)}</select></label>'
    )


def controls(view: View, entries: Sequence[str] = (), langs: Sequence[str] = ()) -> m.Markup:
    """The filter form (a plain GET form: it works without the script too)."""
    v = view
    entries = sorted(set(entries) | ({v.entry} if v.entry else set()))
    langs = sorted(set(langs) | ({v.lang} if v.lang else set()))
    return m.Markup(
        '<form id="filters" method="get" action="/">'
        + _select("since", "Period", v.since, list(SINCE_CHOICES))
        + _select("entry", "Entry", v.entry, entries)
        + _select("sentiment", "Sentiment", v.sentiment, list(SENTIMENTS))
        + _select("intent", "Intent", v.intent, list(INTENTS))
        + _select("lang", "Language", v.lang, langs)
        + '<button type="submit">Apply</button></form>'
    )


def controls_for(d: LiveData) -> m.Markup:
    return controls(
        d.view, [r["entry"] for r in d.sentiment_by_entry], [str(r["lang"]) for r in d.languages]
    )


def page(body: m.Markup, form: m.Markup, refresh_s: int = REFRESH_S) -> str:
    """The whole document around `body` (the panels, or an error message)."""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>veille — live</title>"
        '<link rel="stylesheet" href="/static/report.css">'
        '<link rel="stylesheet" href="/static/live.css">'
        f'<script src="/static/live.js" defer></script></head>'
        f'<body data-refresh="{int(refresh_s)}"><main>'
        '<header class="top"><div><h1>veille — live</h1>'
        '<p class="period">Social listening, refreshed every '
        f'{int(refresh_s)} s <span id="status"></span></p></div>'
        f"{form}</header>"
        f'<div id="panels">{body}</div>'
        "<footer>Each post counts once; times are UTC event times; the period ends at the newest "
        "stored post. The same store answers ClickHouse's HTTP interface on this port "
        "(read-only).</footer></main></body></html>\n"
    )


def error_panel(message: str) -> m.Markup:
    return m.Markup(f'<p class="nodata" id="error">{m.h(message)}</p>')
