"""The report's overview sections: key figures, volume and sentiment over time, share of voice,
sentiment by watched entry, language mix.

Each function takes the collected `ReportData` and returns one section's markup (a "no data"
section when the period has none); data values are escaped by `markup`.
"""

from __future__ import annotations

import math
from datetime import timedelta

from sinks.report import charts
from sinks.report import markup as m
from sinks.report.collect import ReportData

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


def kpis(d: ReportData) -> m.Markup:
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


def timeline(d: ReportData) -> m.Markup:
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


def share_of_voice(d: ReportData) -> m.Markup:
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


def sentiment_by_entry(d: ReportData) -> m.Markup:
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


def languages(d: ReportData) -> m.Markup:
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
