-- Most mentioned accounts (case-insensitive), by posts and distinct authors.
-- param entry: String = ''                        watch entry name; '' for every post
-- param start: DateTime = '1970-01-01 00:00:00'   from (UTC, inclusive)
-- param end: DateTime = '2106-01-01 00:00:00'     to (UTC, exclusive)
-- param limit: UInt32 = 20                        how many accounts
-- example: veille query top_mentions --param limit=10
SELECT
    mention,
    count() AS posts,
    uniqExact(author_id) AS authors
FROM posts FINAL
ARRAY JOIN arrayDistinct(arrayMap(x -> lower(x), mentions)) AS mention
WHERE created_at >= {start:DateTime} AND created_at < {end:DateTime}
  AND ({entry:String} = '' OR has(entries, {entry:String}))
GROUP BY mention
ORDER BY posts DESC, mention
LIMIT {limit:UInt32}
