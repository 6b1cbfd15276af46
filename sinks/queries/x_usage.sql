-- Posts read from X per UTC day (billed once per post per day), the month's total, its cost
-- and the budget; `paused` is true when ingestion stopped at the budget. `x_reported_day` is X's
-- own count of the day (GET /2/usage/tweets, read daily), `difference` X's minus veille's.
-- param month: String = ''                        YYYY-MM; '' for the current month
-- example: veille query x_usage --param month=2026-11
SELECT
    day,
    reads_day,
    duplicates_day,
    reads_month,
    cost_month_usd,
    budget_posts,
    paused,
    x_reported_day,
    toInt64(x_reported_day) - toInt64(reads_day) AS difference
FROM x_usage FINAL
WHERE month = if({month:String} = '', formatDateTime(now(), '%Y-%m'), {month:String})
ORDER BY day
