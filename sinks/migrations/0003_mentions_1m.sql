-- Per-minute rollup: watch entry x topic x language x sentiment, fed by a materialized view.
-- Posts are kept as a bitmap of their ids (groupBitmap), not a count: adding the same post
-- twice (a redelivered batch fires the view again) leaves the bitmap unchanged, and merging the
-- bitmaps of several rows counts a post once even when it matched several entries or topics.
-- Read with groupBitmapMerge(posts). A post with no entry (or no topic) has entry '' (topic '').
CREATE TABLE IF NOT EXISTS mentions_1m
(
    minute      DateTime('UTC'),
    entry       LowCardinality(String),
    entry_kind  LowCardinality(String),
    topic       LowCardinality(String),
    lang        LowCardinality(String),
    sentiment   LowCardinality(String),
    posts       AggregateFunction(groupBitmap, UInt64),
    authors     AggregateFunction(uniq, UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (minute, entry, topic, lang, sentiment, entry_kind);

CREATE MATERIALIZED VIEW IF NOT EXISTS mentions_1m_mv TO mentions_1m AS
SELECT
    toStartOfMinute(created_at) AS minute,
    entry,
    entry_kind,
    topic,
    lang,
    sentiment,
    groupBitmapState(id) AS posts,
    uniqState(author_id) AS authors
FROM posts
ARRAY JOIN
    if(empty(entries), [''], entries) AS entry,
    if(empty(entries), [''], entry_kinds) AS entry_kind
ARRAY JOIN if(empty(topics), [''], topics) AS topic
GROUP BY minute, entry, entry_kind, topic, lang, sentiment;
