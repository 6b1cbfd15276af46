-- Most used hashtags (case-insensitive), by posts and distinct authors.
-- param entry: String = ''                        watch entry name; '' for every post
-- param start: DateTime = '1970-01-01 00:00:00'   from (UTC, inclusive)
-- param end: DateTime = '2106-01-01 00:00:00'     to (UTC, exclusive)
-- param limit: UInt32 = 20                        how many hashtags
-- example: veille query top_hashtags --param entry='Nimbus Télécom' --param limit=5
SELECT
    hashtag,
    count() AS posts,
    uniqExact(author_id) AS authors
FROM posts FINAL
ARRAY JOIN arrayDistinct(arrayMap(x -> lower(x), hashtags)) AS hashtag
WHERE created_at >= {start:DateTime} AND created_at < {end:DateTime}
  AND ({entry:String} = '' OR has(entries, {entry:String}))
GROUP BY hashtag
ORDER BY posts DESC, hashtag
LIMIT {limit:UInt32}
