-- The latest posts, newest first, with their enrichment; filters are optional.
-- param entry: String = ''                        watch entry name; '' for all
-- param sentiment: String = ''                    negative, neutral, positive; '' for all
-- param intent: String = ''                       question, complaint, praise, request, other
-- param lang: String = ''                         ISO 639-1 code; '' for all
-- param limit: UInt32 = 20                        how many posts
-- example: veille query recent_posts --param sentiment=negative --param intent=complaint
SELECT
    toString(id) AS id,
    created_at,
    author_username AS author,
    author_followers AS followers,
    lang,
    sentiment,
    round(sentiment_score, 2) AS score,
    intent,
    entries,
    topics,
    text
FROM posts FINAL
WHERE ({entry:String} = '' OR has(entries, {entry:String}))
  AND ({sentiment:String} = '' OR sentiment = {sentiment:String})
  AND ({intent:String} = '' OR intent = {intent:String})
  AND ({lang:String} = '' OR lang = {lang:String})
ORDER BY created_at DESC, id DESC
LIMIT {limit:UInt32}
