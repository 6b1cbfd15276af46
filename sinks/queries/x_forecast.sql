-- What each watch item's X rules are expected to read and cost (the newest forecast, from X's
-- post counts of the last 7 days), beside what was billed: the posts read per day over the
-- last 7 days (x_usage), which is the same for every row. `over_budget`: the item alone costs
-- more than the monthly budget.
-- example: veille query x_forecast
WITH
    newest AS (SELECT max(forecast_at) AS at FROM x_forecasts),
    billed AS (
        SELECT avg(reads_day) AS per_day
        FROM x_usage FINAL
        WHERE day >= today() - 7 AND day < today()
    )
SELECT
    tag,
    kind,
    rules,
    sample_pct,
    posts_per_day,
    cost_month_usd,
    budget_usd,
    over_budget,
    forecast_at,
    (SELECT per_day FROM billed) AS billed_posts_per_day_7d
FROM x_forecasts FINAL
WHERE forecast_at = (SELECT at FROM newest)
ORDER BY cost_month_usd DESC, tag
