"""SQL on the per-minute rollup (`mentions_1m`) that the overview and the crisis dashboards share.

Every count reads `groupBitmapMerge(posts)`: a post counts once, even in several entries, topics
or minutes of a bucket, and even when it was delivered twice.
"""

from __future__ import annotations

from .builder import IN_ENTRY, named, sql

ALL_POSTS = "groupBitmapMerge(posts)"
NEGATIVE = "groupBitmapMergeIf(posts, sentiment = 'negative')"
POSITIVE = "groupBitmapMergeIf(posts, sentiment = 'positive')"
SHARE_NEGATIVE = f"round({NEGATIVE} / greatest({ALL_POSTS}, 1), 3) AS share_negative"


def in_range(measure: str) -> str:
    """One row: `measure` over the rollup's minutes of the time range, for the entry."""
    return sql(
        f"""
SELECT {measure}
FROM mentions_1m
WHERE $__timeFilter(minute) AND {IN_ENTRY}
"""
    )


def per_entry(column: str) -> str:
    """One series per entry: `column` of the named query `entries_over_time`."""
    return named(
        "entries_over_time", f"SELECT time, entry, {column}\nFROM ({{q}})\nORDER BY time, entry"
    )
