-- Sentiment of what is said about each watch entry: posts per label, share negative, and net
-- sentiment ((positive - negative) / posts, from -1 to 1). From the per-minute rollup.
-- param kind: String = ''                         brand, competitor, partner, supplier, sector; '' all
-- param start: DateTime = '1970-01-01 00:00:00'   from (UTC, inclusive)
-- param end: DateTime = '2106-01-01 00:00:00'     to (UTC, exclusive)
-- example: veille query sentiment_by_brand --param kind=competitor
SELECT
    entry,
    any(entry_kind) AS kind,
    groupBitmapMerge(r.posts) AS posts,
    groupBitmapMergeIf(r.posts, sentiment = 'positive') AS positive,
    groupBitmapMergeIf(r.posts, sentiment = 'neutral') AS neutral,
    groupBitmapMergeIf(r.posts, sentiment = 'negative') AS negative,
    round(negative / posts, 3) AS share_negative,
    round((positive - negative) / posts, 3) AS net_sentiment
FROM mentions_1m AS r
WHERE entry != ''
  AND minute >= {start:DateTime} AND minute < {end:DateTime}
  AND ({kind:String} = '' OR entry_kind = {kind:String})
GROUP BY entry
ORDER BY posts DESC, entry
