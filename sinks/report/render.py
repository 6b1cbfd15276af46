"""The report as one self-contained HTML document.

Nothing is fetched when the file is opened: the CSS is inlined, the charts are inline SVG, and
there is no script, font, image or link to another site. A Content-Security-Policy meta tag
forbids loading anything at all, as a second guard. Every value from the data (post texts,
usernames, entry names, alert details) goes through `markup.h()`, which escapes it.

This module assembles the page (head, header, key figures, the sections in order, footer); the
sections themselves are in `sinks.report.sections`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sinks.report import markup as m
from sinks.report.collect import ReportData
from sinks.report.sections import conversation, overview, response
from sinks.report.style import CSS

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


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
        overview.timeline(data),
        overview.share_of_voice(data),
        overview.languages(data),
        overview.sentiment_by_entry(data),
        conversation.emerging(data),
        conversation.hashtags(data),
        conversation.authors(
            data.authors_reach, "Top authors by reach", "Most followed authors who posted."
        ),
        conversation.authors(
            data.authors_engagement,
            "Top authors by engagement",
            "Likes, reposts, replies and quotes their posts received.",
        ),
        response.care(data),
        response.response_times(data),
        response.alerts(data),
        response.audience(data),
        conversation.negative_posts(data),
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
        f"{overview.kpis(data)}"
        f'<div class="grid">{"".join(sections)}</div>'
        "<footer>veille — real-time social listening. Each post counts once; times are UTC; "
        "the period ends at the newest stored post (event time).</footer>"
        "</main></body></html>\n"
    )
