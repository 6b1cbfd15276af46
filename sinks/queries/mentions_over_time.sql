-- Posts per time bucket, for every post or for one watch entry (from the per-minute rollup).
-- A post counts once per bucket even when it matched several entries or topics.
-- param entry: String = ''                        watch entry name; '' for every post
-- param topic: String = ''                        topic name; '' for every topic
-- param start: DateTime = '1970-01-01 00:00:00'   from (UTC, inclusive)
-- param end: DateTime = '2106-01-01 00:00:00'     to (UTC, exclusive)
-- param interval_s: UInt32 = 3600                 bucket size in seconds
-- example: veille query mentions_over_time --param entry='Orbital Telecom' --param interval_s=60
SELECT
    toStartOfInterval(minute, toIntervalSecond({interval_s:UInt32})) AS time,
    groupBitmapMerge(r.posts) AS posts,
    groupBitmapMergeIf(r.posts, sentiment = 'negative') AS negative,
    groupBitmapMergeIf(r.posts, sentiment = 'positive') AS positive
FROM mentions_1m AS r
WHERE minute >= {start:DateTime} AND minute < {end:DateTime}
  AND ({entry:String} = '' OR entry = {entry:String})
  AND ({topic:String} = '' OR topic = {topic:String})
GROUP BY time
ORDER BY time
