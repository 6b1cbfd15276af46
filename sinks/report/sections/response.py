"""The report's sections on what needs an answer: the customer-care queue, response times of the
official accounts, alerts, audience growth of the official accounts.

Each function returns one section's markup (a "no data" section when there is nothing to show);
data values are escaped by `markup`.
"""

from __future__ import annotations

from sinks.report import charts
from sinks.report import markup as m
from sinks.report.collect import ReportData, Row
from sinks.report.period import parse_time


def care(d: ReportData) -> m.Markup:
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


def response_times(d: ReportData) -> m.Markup:
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


def alerts(d: ReportData) -> m.Markup:
    sub = "Crisis, impersonation and budget alerts raised since the period began, newest first."
    if not d.alerts:
        return m.section("Alerts", sub, m.nodata("No alert in this period."), wide=True)
    more = f" Showing 30 of {len(d.alerts)}." if len(d.alerts) > 30 else ""
    return m.section("Alerts", sub + more, alerts_table(d.alerts), wide=True)


def audience(d: ReportData) -> m.Markup:
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
