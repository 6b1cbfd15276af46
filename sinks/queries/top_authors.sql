-- Authors who count: by reach (followers) or by engagement (likes, reposts, replies and quotes
-- their posts received), with their posts and sentiment in the period.
-- param order: String = 'reach'                   reach or engagement
-- param entry: String = ''                        watch entry name; '' for every post
-- param start: DateTime = '1970-01-01 00:00:00'   from (UTC, inclusive)
-- param end: DateTime = '2106-01-01 00:00:00'     to (UTC, exclusive)
-- param limit: UInt32 = 20                        how many authors
-- example: veille query top_authors --param order=engagement --param entry='Orbital Telecom'
SELECT
    author_username AS author,
    max(author_followers) AS followers,
    count() AS posts,
    sum(like_count + retweet_count + reply_count + quote_count) AS engagement,
    countIf(sentiment = 'negative') AS negative,
    countIf(sentiment = 'positive') AS positive,
    any(author_verified_type) AS verified_type
FROM posts FINAL
WHERE created_at >= {start:DateTime} AND created_at < {end:DateTime}
  AND ({entry:String} = '' OR has(entries, {entry:String}))
  AND kind != 'retweet'
GROUP BY author
ORDER BY if({order:String} = 'engagement', engagement, followers) DESC, author
LIMIT {limit:UInt32}
