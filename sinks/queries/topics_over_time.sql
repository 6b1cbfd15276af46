-- Posts per time bucket and topic, for every post or for one watch entry (from the per-minute
-- rollup); a post on two topics counts for both.
-- param entry: String = ''                        watch entry name; '' for every post
-- param start: DateTime = '1970-01-01 00:00:00'   from (UTC, inclusive)
-- param end: DateTime = '2106-01-01 00:00:00'     to (UTC, exclusive)
-- param interval_s: UInt32 = 3600                 bucket size in seconds
-- example: veille query topics_over_time --param entry='Orbital Telecom' --param interval_s=86400
SELECT
    toStartOfInterval(minute, toIntervalSecond({interval_s:UInt32})) AS time,
    toString(topic) AS topic,
    groupBitmapMerge(r.posts) AS posts
FROM mentions_1m AS r
WHERE topic != ''
  AND minute >= {start:DateTime} AND minute < {end:DateTime}
  AND ({entry:String} = '' OR entry = {entry:String})
GROUP BY time, topic
ORDER BY time, topic
