"""The report's sections on what is said and who says it: emerging terms, top hashtags, top
authors, latest negative posts.

Each function returns one section's markup (a "no data" section when there is nothing to show);
data values are escaped by `markup`.
"""

from __future__ import annotations

from sinks.report import markup as m
from sinks.report.collect import ReportData, Row


def emerging(d: ReportData) -> m.Markup:
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


def hashtags(d: ReportData) -> m.Markup:
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


def authors(rows: list[Row], title: str, sub: str) -> m.Markup:
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


def negative_posts(d: ReportData) -> m.Markup:
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
