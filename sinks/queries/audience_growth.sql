-- Followers of each watched account (brands' and competitors' official accounts): first and
-- last reading in the period, the change, and the change per day.
-- param start: DateTime = '1970-01-01 00:00:00'   from (UTC, inclusive)
-- param end: DateTime = '2106-01-01 00:00:00'     to (UTC, exclusive)
-- param kind: String = ''                         brand, competitor, partner, supplier; '' all
-- example: veille query audience_growth --param kind=competitor
SELECT
    username,
    any(entry) AS entry,
    any(entry_kind) AS kind,
    argMin(followers_count, observed_at) AS followers_first,
    argMax(followers_count, observed_at) AS followers_last,
    toInt64(followers_last) - toInt64(followers_first) AS growth,
    round(growth / greatest(dateDiff('second', min(observed_at), max(observed_at)) / 86400, 1), 1)
        AS growth_per_day,
    count() AS readings
FROM account_metrics
WHERE observed_at >= {start:DateTime} AND observed_at < {end:DateTime}
  AND ({kind:String} = '' OR entry_kind = {kind:String})
GROUP BY username
ORDER BY growth DESC, username
