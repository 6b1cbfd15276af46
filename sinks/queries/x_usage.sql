-- Posts read from X per UTC day (billed once per post per day), the month's total, its cost
-- and the budget; `paused` is true when ingestion stopped at the budget.
-- param month: String = ''                        YYYY-MM; '' for the current month
-- example: veille query x_usage --param month=2026-11
SELECT
    day,
    reads_day,
    duplicates_day,
    reads_month,
    cost_month_usd,
    budget_posts,
    paused
FROM x_usage FINAL
WHERE month = if({month:String} = '', formatDateTime(now(), '%Y-%m'), {month:String})
ORDER BY day
