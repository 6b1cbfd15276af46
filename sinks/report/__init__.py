"""`veille report`: one self-contained HTML report of a period, for a manager.

`build_report(client, "7d")` computes the period once (the 7 days ending at the newest stored
post, in event time), reads every figure through the named queries (`sinks/queries/*.sql`) with
the period as ClickHouse parameters, and renders a single HTML file that opens without a
network: inline CSS, charts as inline SVG, no script. Every text from the data is escaped.

Sections without data say so; an empty database still gives a report, of empty sections. Errors:
`ReportError` for a malformed `since`, `QueryError` when ClickHouse refuses a query.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sinks.report.collect import ReportData, collect
from sinks.report.period import Period, ReportError, parse_since, period_ending_at_newest
from sinks.report.render import render

__all__ = ["Period", "Report", "ReportData", "ReportError", "build_report", "parse_since"]


@dataclass(frozen=True)
class Report:
    """A built report: the HTML document and the figures it shows."""

    html: str
    data: ReportData

    @property
    def period(self) -> Period:
        return self.data.period

    def empty_sections(self) -> list[str]:
        """Names of the sections that show "no data"."""
        d = self.data
        sections = {
            "timeline": d.totals.posts,
            "share_of_voice": d.share_of_voice,
            "sentiment_by_brand": d.sentiment_by_entry,
            "emerging_terms": d.emerging_terms,
            "top_hashtags": d.hashtags,
            "top_authors": d.authors_reach,
            "care_queue": d.care_queue,
            "response_times": d.response_times,
            "alerts": d.alerts,
            "language_mix": d.languages,
            "audience_growth": d.audience,
            "negative_posts": d.negative_posts,
        }
        return [name for name, value in sections.items() if not value]


def build_report(
    client: Any,
    since: timedelta | str = "7d",
    *,
    entry: str | None = None,
    title: str | None = None,
    now: datetime | None = None,
) -> Report:
    """Build the report of the `since`-long period ending at the newest stored post.

    `entry` restricts the post-level sections (volume, terms, authors, care, languages, alerts)
    to one watch entry and makes it the brand whose share of voice is headlined; without it the
    headline brand is the brand with the most posts. `now` (the wall clock by default) stamps
    the report and ends the period when no post is stored. Reads only; closes nothing.
    Raises `ReportError` or `QueryError`.
    """
    length = parse_since(since) if isinstance(since, str) else since
    if length <= timedelta(0):
        raise ReportError("the report's period must be positive")
    period = period_ending_at_newest(client, length, now)
    data = collect(client, period, entry or None)
    heading = title or ("Social listening report" + (f" — {entry}" if entry else ""))
    return Report(render(data, heading, now), data)
