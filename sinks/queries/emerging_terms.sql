-- Emerging terms and hashtags: each term's posts in the last window against its own baseline
-- (the window's expected count from the preceding hours), with a minimum support; stop words
-- of each language, links and @mentions left out. Times are event times: `end` defaults to the
-- newest post, so simulated and replayed data work as live data does.
-- param end: String = ''                          end of the window (UTC); '' for the newest post
-- param window_h: UInt32 = 1                      the recent window, in hours
-- param baseline_h: UInt32 = 24                   the baseline before it, in hours
-- param min_support: UInt32 = 5                   least posts in the window
-- param entry: String = ''                        watch entry name; '' for every post
-- param limit: UInt32 = 20                        how many terms
-- example: veille query emerging_terms --param window_h=1 --param baseline_h=24
WITH
    if({end:String} = '', (SELECT max(created_at) FROM posts), parseDateTime64BestEffort({end:String}, 3, 'UTC')) AS t_end,
    t_end - toIntervalHour({window_h:UInt32}) AS t_mid,
    t_mid - toIntervalHour({baseline_h:UInt32}) AS t_start,
    terms AS
    (
        SELECT
            id,
            lang,
            created_at >= t_mid AS recent,
            arrayDistinct(arrayConcat(
                arrayMap(h -> concat('#', lowerUTF8(h)), hashtags),
                arrayFilter(
                    w -> lengthUTF8(w) >= 3 AND NOT match(w, '^[0-9]+$'),
                    tokens(replaceRegexpAll(normalizeUTF8NFD(lowerUTF8(
                        replaceRegexpAll(text, '[#@][[:alnum:]_]+|https?://[^[:space:]]+', ' '))),
                        '\\pM', ''))
                )
            )) AS ts
        FROM posts FINAL
        WHERE created_at >= t_start AND created_at < t_end
          AND ({entry:String} = '' OR has(entries, {entry:String}))
    )
SELECT
    term,
    countIf(recent) AS posts_window,
    countIf(NOT recent) AS posts_baseline,
    round(posts_baseline * {window_h:UInt32} / {baseline_h:UInt32}, 2) AS expected,
    round((posts_window + 1) / (expected + 1), 2) AS lift
FROM terms
ARRAY JOIN ts AS term
WHERE (lang, term) NOT IN (SELECT lang, word FROM stop_words)
GROUP BY term
HAVING posts_window >= {min_support:UInt32}
ORDER BY lift DESC, posts_window DESC, term
LIMIT {limit:UInt32}
