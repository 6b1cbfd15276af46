-- Share of voice: each brand's and competitor's posts as a share of all their posts.
-- A post that names two of them counts for both (as share of voice is usually measured).
-- param start: DateTime = '1970-01-01 00:00:00'   from (UTC, inclusive)
-- param end: DateTime = '2106-01-01 00:00:00'     to (UTC, exclusive)
-- param topic: String = ''                        restrict to one topic; '' for all
-- example: veille query share_of_voice --param topic=outage
SELECT
    entry,
    any(entry_kind) AS kind,
    groupBitmapMerge(r.posts) AS posts,
    round(posts / sum(posts) OVER (), 4) AS share
FROM mentions_1m AS r
WHERE entry_kind IN ('brand', 'competitor')
  AND minute >= {start:DateTime} AND minute < {end:DateTime}
  AND ({topic:String} = '' OR topic = {topic:String})
GROUP BY entry
ORDER BY posts DESC, entry
