-- Followers of each watched account (brands' and competitors' official accounts) per time
-- bucket: the last reading of the bucket.
-- param entry: String = ''                        watch entry of the accounts; '' for all
-- param kind: String = ''                         brand, competitor, partner, supplier; '' all
-- param start: DateTime = '1970-01-01 00:00:00'   from (UTC, inclusive)
-- param end: DateTime = '2106-01-01 00:00:00'     to (UTC, exclusive)
-- param interval_s: UInt32 = 86400                bucket size in seconds
-- example: veille query followers_over_time --param kind=competitor
SELECT
    toStartOfInterval(toDateTime(observed_at), toIntervalSecond({interval_s:UInt32})) AS time,
    username,
    argMax(followers_count, observed_at) AS followers
FROM account_metrics
WHERE observed_at >= {start:DateTime} AND observed_at < {end:DateTime}
  AND ({entry:String} = '' OR entry = {entry:String})
  AND ({kind:String} = '' OR entry_kind = {kind:String})
GROUP BY time, username
ORDER BY time, username
