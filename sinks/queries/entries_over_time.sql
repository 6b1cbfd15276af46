-- Posts per time bucket and watch entry, with their sentiment: negative and positive posts,
-- share negative, and net sentiment ((positive - negative) / posts, from -1 to 1). From the
-- per-minute rollup; a post that names two entries counts for both.
-- param entry: String = ''                        watch entry name; '' for every entry
-- param kind: String = ''                         brand, competitor, partner, supplier, sector; '' all
-- param start: DateTime = '1970-01-01 00:00:00'   from (UTC, inclusive)
-- param end: DateTime = '2106-01-01 00:00:00'     to (UTC, exclusive)
-- param interval_s: UInt32 = 3600                 bucket size in seconds
-- example: veille query entries_over_time --param kind=brand --param interval_s=86400
SELECT
    toStartOfInterval(minute, toIntervalSecond({interval_s:UInt32})) AS time,
    toString(entry) AS entry,
    groupBitmapMerge(r.posts) AS posts,
    groupBitmapMergeIf(r.posts, sentiment = 'negative') AS negative,
    groupBitmapMergeIf(r.posts, sentiment = 'positive') AS positive,
    round(negative / posts, 3) AS share_negative,
    round((positive - negative) / posts, 3) AS net_sentiment
FROM mentions_1m AS r
WHERE entry != ''
  AND minute >= {start:DateTime} AND minute < {end:DateTime}
  AND ({entry:String} = '' OR entry = {entry:String})
  AND ({kind:String} = '' OR entry_kind = {kind:String})
GROUP BY time, entry
ORDER BY time, entry
