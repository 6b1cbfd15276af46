-- The languages posts are written in, with their share (from the per-minute rollup).
-- param entry: String = ''                        watch entry name; '' for every post
-- param start: DateTime = '1970-01-01 00:00:00'   from (UTC, inclusive)
-- param end: DateTime = '2106-01-01 00:00:00'     to (UTC, exclusive)
-- example: veille query language_mix --param entry='Orbital Telecom'
SELECT
    lang,
    groupBitmapMerge(r.posts) AS posts,
    round(posts / sum(posts) OVER (), 4) AS share
FROM mentions_1m AS r
WHERE minute >= {start:DateTime} AND minute < {end:DateTime}
  AND ({entry:String} = '' OR entry = {entry:String})
GROUP BY lang
ORDER BY posts DESC, lang
