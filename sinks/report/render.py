"""The report as one self-contained HTML document.

Nothing is fetched when the file is opened: the CSS is inlined, the charts are inline SVG, and
there is no script, font, image or link to another site. A Content-Security-Policy meta tag
forbids loading anything at all, as a second guard. Every value from the data (post texts,
usernames, entry names, alert details) goes through `markup.h()`, which escapes it.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from sinks.report import charts
from sinks.report import markup as m
from sinks.report.collect import ReportData, Row
from sinks.report.period import parse_time
from sinks.report.style import CSS

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
LANGUAGES = {
    "en": "English",
    "fr": "French",
    "es": "Spanish",
    "de": "German",
    "it": "Italian",
    "pt": "Portuguese",
    "nl": "Dutch",
    "ar": "Arabic",
    "ja": "Japanese",
    "und": "undetermined",
}


# ---- sections --------------------------------------------------------------------------------


def _kpis(d: ReportData) -> m.Markup:
    t = d.totals
    p = d.previous if d.previous_complete else None
    vs = f" vs previous {m.fmt_span(d.period.length)}"

    def note(
        now: float | None, before: float | None, kind: str, good_up: bool | None, default: str
    ) -> tuple[str, str]:
        text, cls = m.delta(now, before, kind, good_up) if p else ("", "")
        return (text + vs, cls) if text else (default, "")

    cards = [
        m.kpi(
            "Posts",
            m.fmt_int(t.posts),
            *note(t.posts, p.posts if p else None, "ratio", None, "unique posts"),
        ),
        m.kpi(
            "Share negative",
            m.fmt_pct(t.share_negative),
            *note(t.share_negative, p.share_negative if p else None, "pts", False, "of all posts"),
        ),
        m.kpi(
            "Net sentiment",
            m.fmt_signed(t.net_sentiment),
            *note(t.net_sentiment, p.net_sentiment if p else None, "abs", True, "from −1 to +1"),
        ),
        m.kpi(
            "Share of voice",
            m.fmt_pct(d.main_brand_share),
            d.main_brand or "no brand in the period",
        ),
    ]
    critical = sum(1 for a in d.alerts if a["severity"] == "critical")
    cards.append(
        m.kpi("Alerts", m.fmt_int(len(d.alerts)), f"{critical} critical" if d.alerts else "")
    )
    queue = f"{len(d.care_queue):,}{'+' if d.care_queue_capped else ''}"
    cards.append(m.kpi("Care queue", queue, "unanswered requests"))
    return m.Markup(f'<div class="kpis">{"".join(cards)}</div>')


def _timeline(d: ReportData) -> m.Markup:
    sub = f"Unique posts per {m.fmt_span(timedelta(seconds=d.bucket_s))}, by sentiment (UTC)."
    if d.totals.posts == 0:
        return m.section("Volume and sentiment over time", sub, m.nodata(), wide=True)
    times = [b.time for b in d.timeline]
    day_buckets = d.bucket_s >= 86400
    labels = [f"{t:%a %d %b}" if day_buckets else f"{t:%a %d %b %H:%M}" for t in times]
    ticks: list[tuple[int, str]]
    if not day_buckets and d.period.length >= timedelta(days=2):
        midnights = [i for i, t in enumerate(times) if t.hour == 0 and t.minute == 0]
        every = max(1, math.ceil(len(midnights) / 10))
        ticks = [(i, f"{times[i]:%a %d %b}") for i in midnights[::every]]
    else:
        every = max(1, math.ceil(len(times) / 8))
        fmt = "%d %b" if day_buckets else "%H:%M"
        ticks = [(i, f"{times[i]:{fmt}}") for i in range(0, len(times), every)]
    series = [
        charts.Series("negative", charts.NEGATIVE, [b.negative for b in d.timeline]),
        charts.Series("neutral", charts.NEUTRAL, [b.neutral for b in d.timeline]),
        charts.Series("positive", charts.POSITIVE, [b.positive for b in d.timeline]),
    ]
    legend = m.legend(
        [("negative", charts.NEGATIVE), ("neutral", charts.NEUTRAL), ("positive", charts.POSITIVE)]
    )
    chart = charts.stacked_columns(labels, series, ticks, "Posts over time by sentiment")
    return m.section(
        "Volume and sentiment over time", sub, m.join([legend, m.Markup(chart)]), wide=True
    )


def _share_of_voice(d: ReportData) -> m.Markup:
    sub = "Brands' and competitors' posts as a share of all their posts."
    if not d.share_of_voice:
        return m.section("Share of voice", sub, m.nodata())
    items = [
        (r["entry"], float(r["share"]), f"{m.fmt_pct(r['share'])} · {m.fmt_int(r['posts'])}")
        for r in d.share_of_voice
    ]
    return m.section(
        "Share of voice",
        sub,
        m.Markup(charts.hbars(items, "Share of voice", highlight=d.main_brand)),
        sid="share-of-voice",
    )


def _sentiment_by_entry(d: ReportData) -> m.Markup:
    sub = "What is said about each watched entry; net = (positive − negative) / posts."
    rows = d.sentiment_by_entry
    if not rows:
        return m.section("Sentiment by brand", sub, m.nodata(), wide=True)
    chart = charts.stacked_hbars(
        [(r["entry"], [r["negative"], r["neutral"], r["positive"]]) for r in rows[:12]],
        [("negative", charts.NEGATIVE), ("neutral", charts.NEUTRAL), ("positive", charts.POSITIVE)],
        "Sentiment by entry",
    )
    table = m.table(
        ["Entry", "Kind", "Posts", "Negative", "Neutral", "Positive", "Share neg.", "Net"],
        (
            [
                r["entry"],
                r["kind"],
                m.fmt_int(r["posts"]),
                m.fmt_int(r["negative"]),
                m.fmt_int(r["neutral"]),
                m.fmt_int(r["positive"]),
                m.fmt_pct(r["share_negative"]),
                (
                    m.fmt_signed(r["net_sentiment"]),
                    "num " + ("neg" if r["net_sentiment"] < 0 else "pos"),
                ),
            ]
            for r in rows
        ),
        num={2, 3, 4, 5, 6, 7},
    )
    legend = m.legend(
        [("negative", charts.NEGATIVE), ("neutral", charts.NEUTRAL), ("positive", charts.POSITIVE)]
    )
    return m.section("Sentiment by brand", sub, m.join([legend, m.Markup(chart), table]), wide=True)


def _emerging(d: ReportData) -> m.Markup:
    sub = (
        f"Terms and hashtags of the last {d.emerging_window_h} h against the "
        f"{d.emerging_baseline_h} h before (lift = window / expected); at least 3 posts."
    )
    if not d.emerging_terms:
        return m.section("Emerging terms", sub, m.nodata("No term rose above its baseline."))
    table = m.table(
        ["Term", "Posts (window)", "Expected", "Lift"],
        (
            [r["term"], m.fmt_int(r["posts_window"]), f"{r['expected']:g}", f"×{r['lift']:g}"]
            for r in d.emerging_terms
        ),
        num={1, 2, 3},
    )
    return m.section("Emerging terms", sub, table)


def _hashtags(d: ReportData) -> m.Markup:
    sub = "Most used hashtags (case-insensitive) by posts and distinct authors."
    if not d.hashtags:
        return m.section("Top hashtags", sub, m.nodata())
    top = max(float(r["posts"]) for r in d.hashtags)
    table = m.table(
        ["Hashtag", "Posts", "Authors", ""],
        (
            [
                f"#{r['hashtag']}",
                m.fmt_int(r["posts"]),
                m.fmt_int(r["authors"]),
                (m.bar(r["posts"], top), "bar"),
            ]
            for r in d.hashtags
        ),
        num={1, 2},
    )
    return m.section("Top hashtags", sub, table)


def _authors(rows: list[Row], title: str, sub: str) -> m.Markup:
    if not rows:
        return m.section(title, sub, m.nodata())
    table = m.table(
        ["Author", "Followers", "Posts", "Engagement", "Neg.", "Pos."],
        (
            [
                f"@{r['author']}"
                + (f" ✓{r['verified_type']}" if r["verified_type"] not in ("", "none") else ""),
                m.fmt_int(r["followers"]),
                m.fmt_int(r["posts"]),
                m.fmt_int(r["engagement"]),
                (m.fmt_int(r["negative"]), "num neg"),
                (m.fmt_int(r["positive"]), "num pos"),
            ]
            for r in rows
        ),
        num={1, 2, 3, 4, 5},
    )
    return m.section(title, sub, table)


def _care(d: ReportData) -> m.Markup:
    sub = "Questions, complaints and requests to official accounts not answered yet."
    q = d.care_queue
    if not q:
        return m.section("Customer-care queue", sub, m.nodata("Nothing waits for an answer."))
    waits = sorted(float(r["wait_minutes"]) for r in q)
    size = f"{len(q):,}{'+' if d.care_queue_capped else ''}"
    figures = m.Markup(
        f'<div class="figures"><div><b>{m.h(size)}</b>waiting</div>'
        f"<div><b>{m.h(m.fmt_minutes(waits[len(waits) // 2]))}</b>median wait</div>"
        f"<div><b>{m.h(m.fmt_minutes(waits[-1]))}</b>longest wait</div></div>"
    )
    table = m.table(
        ["Waiting", "Who", "Post"],
        (
            [
                m.fmt_minutes(r["wait_minutes"]),
                m.join(
                    [
                        f"@{r['author']}",
                        m.Markup('<br><small class="muted">'),
                        f"{r['intent']} to " + ", ".join(f"@{a}" for a in r["addressed"]),
                        m.Markup("</small>"),
                    ]
                ),
                (m.shorten(r["text"], 200), "text"),
            ]
            for r in q[:8]
        ),
        num={0},
    )
    return m.section(
        "Customer-care queue", sub, m.join([figures, m.Markup("<h3>Longest waits</h3>"), table])
    )


def _response_times(d: ReportData) -> m.Markup:
    sub = "Time to the first official reply, per day (median and 90th percentile)."
    rows = d.response_times
    if not rows:
        return m.section("Response times", sub, m.nodata())
    days = [parse_time(str(r["day"])[:10]) for r in rows]
    labels = [f"{day:%a %d %b}" for day in days]
    med = [m.number(r["median_minutes"]) if r["answered"] else None for r in rows]
    p90 = [m.number(r["p90_minutes"]) if r["answered"] else None for r in rows]
    parts: list[object] = []
    known = [v for v in med + p90 if v is not None]
    if known:
        scale, unit = (60.0, "h") if max(known) > 180 else (1.0, "min")
        parts.append(
            m.legend(
                [
                    (f"median ({unit})", charts.ACCENT),
                    (f"90th percentile ({unit})", charts.NEGATIVE),
                ]
            )
        )
        chart = charts.lines(
            [f"{day:%d %b}" for day in days],
            [  # p90 first, so the median stays visible where they are equal
                charts.Series("p90", charts.NEGATIVE, [m.scaled(v, scale) for v in p90], dash=True),
                charts.Series("median", charts.ACCENT, [m.scaled(v, scale) for v in med]),
            ],
            f"Response time per day, in {unit}",
            unit=f" {unit}",
        )
        parts.append(m.Markup(chart))
    parts.append(
        m.table(
            ["Day", "Asked", "Answered", "Rate", "Median", "p90"],
            (
                [
                    lab,
                    m.fmt_int(r["asked"]),
                    m.fmt_int(r["answered"]),
                    m.fmt_pct(r["answered"] / r["asked"] if r["asked"] else None, 0),
                    m.fmt_minutes(mid),
                    m.fmt_minutes(top),
                ]
                for lab, r, mid, top in zip(labels, rows, med, p90, strict=True)
            ),
            num={1, 2, 3, 4, 5},
        )
    )
    return m.section("Response times", sub, m.join(parts))


def alerts_table(alerts: list[Row], limit: int = 30) -> m.Markup:
    """Alerts as a table (the first `limit`): when, severity, kind, entry, title and reason."""
    return m.table(
        ["When", "Severity", "Kind", "Entry", "Alert"],
        (
            [
                (m.fmt_when(a["created_at"]), "when"),
                m.Markup(
                    f'<span class="badge sev-{m.h(a["severity"])}">{m.h(a["severity"])}</span>'
                ),
                a["kind"],
                a["entry"] or "–",
                (
                    m.join(
                        [m.Markup("<b>"), a["title"], m.Markup("</b><br>"), m.shorten(a["detail"])]
                    ),
                    "text",
                ),
            ]
            for a in alerts[:limit]
        ),
        num=set(),
    )


def _alerts(d: ReportData) -> m.Markup:
    sub = "Crisis, impersonation and budget alerts raised since the period began, newest first."
    if not d.alerts:
        return m.section("Alerts", sub, m.nodata("No alert in this period."), wide=True)
    more = f" Showing 30 of {len(d.alerts)}." if len(d.alerts) > 30 else ""
    return m.section("Alerts", sub + more, alerts_table(d.alerts), wide=True)


def _languages(d: ReportData) -> m.Markup:
    sub = "Languages the posts are written in."
    if not d.languages:
        return m.section("Language mix", sub, m.nodata())
    items = [
        (
            f"{r['lang']} · {LANGUAGES.get(r['lang'], r['lang'])}",
            float(r["posts"]),
            f"{m.fmt_pct(r['share'])} · {m.fmt_int(r['posts'])}",
        )
        for r in d.languages[:10]
    ]
    return m.section("Language mix", sub, m.Markup(charts.hbars(items, "Language mix")))


def _audience(d: ReportData) -> m.Markup:
    sub = "Followers of the watched official accounts: first and last reading in the period."
    if not d.audience:
        return m.section("Audience growth", sub, m.nodata("No audience reading in this period."))
    table = m.table(
        ["Account", "Entry", "First", "Last", "Change", "Per day"],
        (
            [
                f"@{r['username']}",
                r["entry"],
                m.fmt_int(r["followers_first"]),
                m.fmt_int(r["followers_last"]),
                (f"{int(r['growth']):+,}", "num " + ("neg" if r["growth"] < 0 else "pos")),
                f"{float(r['growth_per_day']):+,.1f}",
            ]
            for r in d.audience
        ),
        num={2, 3, 4, 5},
    )
    return m.section("Audience growth", sub, table)


def _negative_posts(d: ReportData) -> m.Markup:
    sub = "The latest negative posts of the period, as written (links are not followed)."
    if not d.negative_posts:
        return m.section("Latest negative posts", sub, m.nodata(), wide=True)
    table = m.table(
        ["When", "Author", "Followers", "About", "Post"],
        (
            [
                (m.fmt_when(p["created_at"]), "when"),
                f"@{p['author']}",
                m.fmt_int(p["followers"]),
                ", ".join(p["entries"]) or "–",
                (m.shorten(p["text"], 280), "text"),
            ]
            for p in d.negative_posts
        ),
        num={2},
    )
    return m.section("Latest negative posts", sub, table, wide=True)


def render(data: ReportData, title: str, generated_at: datetime | None = None) -> str:
    """The whole HTML document. Pure: reads nothing but `data`."""
    generated = (generated_at or datetime.now(UTC)).astimezone(UTC)
    scope = f"Posts about {data.entry}" if data.entry else "All watched posts"
    newest = (
        f"newest post {data.period.newest:%d %b %Y %H:%M} UTC"
        if data.period.newest
        else "no post stored"
    )
    sections = [
        _timeline(data),
        _share_of_voice(data),
        _languages(data),
        _sentiment_by_entry(data),
        _emerging(data),
        _hashtags(data),
        _authors(data.authors_reach, "Top authors by reach", "Most followed authors who posted."),
        _authors(
            data.authors_engagement,
            "Top authors by engagement",
            "Likes, reposts, replies and quotes their posts received.",
        ),
        _care(data),
        _response_times(data),
        _alerts(data),
        _audience(data),
        _negative_posts(data),
    ]
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="generator" content="veille report">'
        f"<title>{m.h(title)}</title><style>{CSS}</style></head><body><main>"
        f'<header class="top"><div><h1>{m.h(title)}</h1>'
        f'<p class="period">{m.h(data.period.describe())} · {m.h(m.fmt_span(data.period.length))}'
        f" · {m.h(scope)}</p></div>"
        f'<div class="meta">Generated {generated:%d %b %Y %H:%M} UTC<br>'
        f"{m.h(newest)}</div></header>"
        f"{_kpis(data)}"
        f'<div class="grid">{"".join(sections)}</div>'
        "<footer>veille — real-time social listening. Each post counts once; times are UTC; "
        "the period ends at the newest stored post (event time).</footer>"
        "</main></body></html>\n"
    )
