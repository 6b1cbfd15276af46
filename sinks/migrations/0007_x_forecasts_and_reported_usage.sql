-- What each watch item's X rules are expected to read and cost (veille rules --forecast, and
-- the x source before it adds rules), from X's post counts of the last 7 days. One row per item
-- per forecast; the named query x_forecast reads the newest.
CREATE TABLE IF NOT EXISTS x_forecasts
(
    forecast_at    DateTime64(3, 'UTC'),
    tag            String,
    kind           LowCardinality(String),
    rules          UInt16,
    counted_posts  UInt64,
    days           Float64,
    sample_pct     Nullable(UInt8),
    posts_per_day  Float64,
    cost_month_usd Float64,
    budget_usd     Nullable(Float64),
    over_budget    Bool
)
ENGINE = ReplacingMergeTree(forecast_at)
ORDER BY (tag, forecast_at);

-- X's own count of a day's billed posts (GET /2/usage/tweets, read once a day), beside veille's.
ALTER TABLE x_usage ADD COLUMN IF NOT EXISTS x_reported_day Nullable(UInt64) AFTER paused;
ALTER TABLE x_usage ADD COLUMN IF NOT EXISTS x_checked_at Nullable(DateTime64(3, 'UTC')) AFTER x_reported_day;
