-- Questions, complaints and requests per time bucket and intent: the posts that ask something
-- of a watch entry (retweets and the posts of official accounts left out), answered or not.
-- param entry: String = ''                        watch entry name; '' for every entry
-- param start: DateTime = '1970-01-01 00:00:00'   from (UTC, inclusive)
-- param end: DateTime = '2106-01-01 00:00:00'     to (UTC, exclusive)
-- param interval_s: UInt32 = 3600                 bucket size in seconds
-- example: veille query asks_over_time --param entry='Orbital Telecom' --param interval_s=86400
SELECT
    toStartOfInterval(toDateTime(created_at), toIntervalSecond({interval_s:UInt32})) AS time,
    toString(intent) AS intent,
    count() AS posts
FROM posts FINAL
WHERE intent IN ('question', 'complaint', 'request') AND kind != 'retweet' AND author_entry = ''
  AND created_at >= {start:DateTime} AND created_at < {end:DateTime}
  AND ({entry:String} = '' OR has(entries, {entry:String}))
GROUP BY time, intent
ORDER BY time, intent
