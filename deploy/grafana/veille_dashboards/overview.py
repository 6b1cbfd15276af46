"""The overview dashboard: volume, sentiment, share of voice and what emerges, per entry."""

from __future__ import annotations

from sinks import queries

from .builder import Dashboard, bargauge, named, pie, stat, table, timeseries
from .rollup import ALL_POSTS, NEGATIVE, POSITIVE, SHARE_NEGATIVE, in_range, per_entry

OVERVIEW = Dashboard(
    "veille-overview",
    "veille — Overview",
    "What is said about the watch entries: volume, sentiment, share of voice, what emerges.",
    [
        stat(
            "Posts",
            in_range(f"{ALL_POSTS} AS posts"),
            description="Posts in the time range, each counted once.",
        ),
        stat(
            "Authors",
            in_range("uniqMerge(authors) AS authors"),
            description="Distinct authors (approximate, uniq).",
        ),
        stat("Share negative", in_range(SHARE_NEGATIVE), unit="percentunit"),
        stat(
            "Net sentiment",
            in_range(
                f"round(({POSITIVE} - {NEGATIVE}) / greatest({ALL_POSTS}, 1), 3) AS net_sentiment"
            ),
            description="(positive - negative) / posts, from -1 to 1.",
            defaults={"min": -1, "max": 1, "decimals": 2},
        ),
        timeseries(
            "Posts over time",
            named("mentions_over_time"),
            description=queries.get("mentions_over_time").description,
        ),
        timeseries("Posts per entry", per_entry("posts")),
        timeseries(
            "Net sentiment per entry",
            per_entry("net_sentiment"),
            description="(positive - negative) / posts per bucket, from -1 to 1.",
            defaults={"min": -1, "max": 1},
        ),
        timeseries("Posts per topic", named("topics_over_time")),
        timeseries("Posts per language", named("languages_over_time")),
        pie(
            "Language mix",
            named("language_mix"),
            "posts",
            description=queries.get("language_mix").description,
        ),
        pie(
            "Share of voice",
            named("share_of_voice", "SELECT entry, posts\nFROM ({q})"),
            "posts",
            description=queries.get("share_of_voice").description,
        ),
        table(
            "Sentiment by entry",
            named("sentiment_by_brand"),
            description=queries.get("sentiment_by_brand").description,
        ),
        table(
            "Emerging terms (last hour vs the 24 hours before)",
            named("emerging_terms"),
            description=queries.get("emerging_terms").description,
        ),
        bargauge(
            "Top hashtags",
            named("top_hashtags"),
            "posts",
            description=queries.get("top_hashtags").description,
        ),
        table(
            "Top authors by reach",
            named("top_authors"),
            description=queries.get("top_authors").description,
        ),
        table(
            "Most mentioned accounts",
            named("top_mentions"),
            description=queries.get("top_mentions").description,
        ),
        table("Most shared links", named("top_links"), w=24),
        table(
            "Latest posts",
            named("recent_posts", limit=100),
            w=24,
            h=10,
            description=queries.get("recent_posts").description,
        ),
    ],
)
