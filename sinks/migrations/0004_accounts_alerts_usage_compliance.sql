-- Audience: one row per reading of a watched account's public counts.
CREATE TABLE IF NOT EXISTS account_metrics
(
    observed_at     DateTime64(3, 'UTC'),
    account_id      UInt64,
    username        String,
    name            String,
    entry           LowCardinality(String),
    entry_kind      LowCardinality(String),
    followers_count UInt64,
    following_count UInt64,
    tweet_count     UInt64,
    listed_count    UInt64
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(observed_at)
ORDER BY (username, observed_at);

-- Alerts; the latest row of a key is its current state (read with FINAL or argMax).
CREATE TABLE IF NOT EXISTS alerts
(
    key        String,
    kind       LowCardinality(String),
    severity   LowCardinality(String),
    title      String,
    detail     String,
    entry      String,
    created_at DateTime64(3, 'UTC'),
    data       String,
    stored_at  DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(created_at)
ORDER BY key;

-- X usage (posts read, billed once per post per UTC day), the latest reading per day.
CREATE TABLE IF NOT EXISTS x_usage
(
    day            Date,
    month          String,
    reads_day      UInt64,
    reads_month    UInt64,
    duplicates_day UInt64,
    budget_posts   Nullable(UInt64),
    cost_month_usd Float64,
    paused         Bool,
    observed_at    DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(observed_at)
ORDER BY day;

-- Posts removed for X compliance (deleted, protected, suspended), and why.
CREATE TABLE IF NOT EXISTS deleted_posts
(
    id         UInt64,
    reason     LowCardinality(String),
    removed_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(removed_at)
ORDER BY id;

-- What the rollup holds for each minute, computed from the stored posts: the same SELECT as
-- mentions_1m_mv, used to rebuild minutes after posts were removed.
CREATE VIEW IF NOT EXISTS mentions_1m_source AS
SELECT
    toStartOfMinute(created_at) AS minute,
    entry,
    entry_kind,
    topic,
    lang,
    sentiment,
    groupBitmapState(id) AS posts,
    uniqState(author_id) AS authors
FROM posts FINAL
ARRAY JOIN
    if(empty(entries), [''], entries) AS entry,
    if(empty(entries), [''], entry_kinds) AS entry_kind
ARRAY JOIN if(empty(topics), [''], topics) AS topic
GROUP BY minute, entry, entry_kind, topic, lang, sentiment;
