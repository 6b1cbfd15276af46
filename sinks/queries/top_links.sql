-- Most shared links (expanded URLs) and their domains.
-- param entry: String = ''                        watch entry name; '' for every post
-- param start: DateTime = '1970-01-01 00:00:00'   from (UTC, inclusive)
-- param end: DateTime = '2106-01-01 00:00:00'     to (UTC, exclusive)
-- param limit: UInt32 = 20                        how many links
-- example: veille query top_links --param limit=10
SELECT
    url,
    domain(url) AS domain,
    count() AS posts,
    uniqExact(author_id) AS authors
FROM posts FINAL
ARRAY JOIN arrayDistinct(urls) AS url
WHERE created_at >= {start:DateTime} AND created_at < {end:DateTime}
  AND ({entry:String} = '' OR has(entries, {entry:String}))
GROUP BY url
ORDER BY posts DESC, url
LIMIT {limit:UInt32}
