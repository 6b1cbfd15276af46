"""How records map to ClickHouse rows: for each stored record kind, its columns and row function.

`ROWS` maps each table of the record catalogue (`veille.records`) to its column names and the
function that turns a record into a row in that order. The column lists here and the migrations
must agree; tests insert through these functions and read back through SQL, so a mismatch fails
there, and `tests/veille/test_records.py` fails when a stored kind has no mapping.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from veille.models import (
    AccountSnapshot,
    Alert,
    DeadLetter,
    EnrichedPost,
    Reference,
    RuleForecast,
    UsageSnapshot,
)

POST_COLUMNS = (
    "id",
    "created_at",
    "text",
    "lang",
    "x_lang",
    "sentiment",
    "sentiment_score",
    "sentiment_confidence",
    "intent",
    "topics",
    "entries",
    "entry_kinds",
    "kind",
    "author_id",
    "author_username",
    "author_name",
    "author_followers",
    "author_following",
    "author_posts",
    "author_verified_type",
    "author_created_at",
    "conversation_id",
    "in_reply_to_user_id",
    "in_reply_to_username",
    "replied_to_id",
    "quoted_id",
    "retweeted_id",
    "referenced_author",
    "hashtags",
    "mentions",
    "urls",
    "cashtags",
    "retweet_count",
    "reply_count",
    "like_count",
    "quote_count",
    "bookmark_count",
    "impression_count",
    "context_domains",
    "context_entities",
    "rule_tags",
    "source",
    "received_at",
    "enriched_at",
    "author_entry",
    "addressed",
)

DEAD_LETTER_COLUMNS = (
    "id",
    "stage",
    "source",
    "topic",
    "partition",
    "offset",
    "reason",
    "payload",
    "failed_at",
)


def post_row(p: EnrichedPost) -> list[Any]:
    """The values of one `posts` row, in `POST_COLUMNS` order."""
    a = p.author
    m = p.metrics
    ref = next(iter(p.references), None)
    by_type: dict[str, Reference] = {}
    for r in p.references:  # the first of each type, as `Post.reference` finds it
        by_type.setdefault(r.type, r)
    replied, quoted, retweeted = (by_type.get(t) for t in ("replied_to", "quoted", "retweeted"))
    return [
        int(p.id),
        p.created_at,
        p.text,
        p.lang,
        p.x_lang or "",
        p.sentiment,
        p.sentiment_score,
        p.sentiment_confidence,
        p.intent,
        list(p.topics),
        list(p.entries),
        list(p.entry_kinds),
        "retweet" if retweeted else "quote" if quoted else "reply" if replied else "post",
        int(a.id),
        a.username,
        a.name,
        a.followers_count,
        a.following_count,
        a.tweet_count,
        a.verified_type,
        a.created_at,
        int(p.conversation_id) if p.conversation_id else int(p.id),
        int(p.in_reply_to_user_id) if p.in_reply_to_user_id else 0,
        p.in_reply_to_username or "",
        int(replied.id) if replied else 0,
        int(quoted.id) if quoted else 0,
        int(retweeted.id) if retweeted else 0,
        (ref.author_username or "") if ref else "",
        list(p.hashtags),
        list(p.mentions),
        list(p.urls),
        list(p.cashtags),
        m.retweet_count,
        m.reply_count,
        m.like_count,
        m.quote_count,
        m.bookmark_count,
        m.impression_count,
        [c.domain_name for c in p.context_annotations],
        [c.entity_name for c in p.context_annotations],
        list(p.rule_tags),
        p.source,
        p.received_at,
        p.enriched_at,
        p.author_entry,
        list(p.addressed),
    ]


def dead_letter_row(d: DeadLetter) -> list[Any]:
    return [
        d.id,
        d.stage,
        d.source,
        d.topic or "",
        -1 if d.partition is None else d.partition,
        -1 if d.offset is None else d.offset,
        d.reason,
        d.payload,
        d.failed_at,
    ]


ACCOUNT_COLUMNS = (
    "observed_at",
    "account_id",
    "username",
    "name",
    "entry",
    "entry_kind",
    "followers_count",
    "following_count",
    "tweet_count",
    "listed_count",
)

ALERT_COLUMNS = ("key", "kind", "severity", "title", "detail", "entry", "created_at", "data")

USAGE_COLUMNS = (
    "day",
    "month",
    "reads_day",
    "reads_month",
    "duplicates_day",
    "budget_posts",
    "cost_month_usd",
    "paused",
    "x_reported_day",
    "x_checked_at",
    "observed_at",
)

FORECAST_COLUMNS = (
    "forecast_at",
    "tag",
    "kind",
    "rules",
    "counted_posts",
    "days",
    "sample_pct",
    "posts_per_day",
    "cost_month_usd",
    "budget_usd",
    "over_budget",
)


def account_row(a: AccountSnapshot) -> list[Any]:
    return [
        a.observed_at,
        int(a.id),
        a.username,
        a.name,
        a.entry,
        a.entry_kind,
        a.followers_count,
        a.following_count,
        a.tweet_count,
        a.listed_count,
    ]


def alert_row(a: Alert) -> list[Any]:
    return [
        a.key,
        a.kind,
        a.severity,
        a.title,
        a.detail,
        a.entry or "",
        a.created_at,
        json.dumps(a.data, ensure_ascii=False, default=str),
    ]


def usage_row(u: UsageSnapshot) -> list[Any]:
    from datetime import date

    return [
        date.fromisoformat(u.day),
        u.month,
        u.reads_day,
        u.reads_month,
        u.duplicates_day,
        u.budget_posts,
        u.cost_month_usd,
        u.paused,
        u.x_reported_day,
        u.x_checked_at,
        u.observed_at,
    ]


def forecast_row(f: RuleForecast) -> list[Any]:
    return [getattr(f, column) for column in FORECAST_COLUMNS]  # the columns are its fields


RowMapping = tuple[tuple[str, ...], Callable[[Any], list[Any]]]

ROWS: dict[str, RowMapping] = {
    "posts": (POST_COLUMNS, post_row),
    "dead_letters": (DEAD_LETTER_COLUMNS, dead_letter_row),
    "alerts": (ALERT_COLUMNS, alert_row),
    "account_metrics": (ACCOUNT_COLUMNS, account_row),
    "x_usage": (USAGE_COLUMNS, usage_row),
    "x_forecasts": (FORECAST_COLUMNS, forecast_row),
}
"""Table name -> (its columns, record -> row in that order)."""
