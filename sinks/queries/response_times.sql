-- How fast official accounts answer: per day, the questions, complaints and requests addressed
-- to them, how many were answered, and the median and 90th percentile of the time to the first
-- official reply (minutes).
-- param entry: String = ''                        entry whose official accounts are addressed; '' all
-- param start: DateTime = '1970-01-01 00:00:00'   from (UTC, inclusive)
-- param end: DateTime = '2106-01-01 00:00:00'     to (UTC, exclusive)
-- example: veille query response_times --param entry='Orbital Telecom'
WITH
    asks AS
    (
        SELECT id, created_at, conversation_id, author_id
        FROM posts FINAL
        WHERE intent IN ('question', 'complaint', 'request') AND author_entry = '' AND kind != 'retweet'
          AND notEmpty(addressed)
          AND created_at >= {start:DateTime} AND created_at < {end:DateTime}
          AND ({entry:String} = '' OR has(entries, {entry:String}))
    ),
    replies AS
    (
        SELECT replied_to_id, conversation_id, in_reply_to_user_id, created_at
        FROM posts FINAL
        WHERE author_entry != '' AND kind = 'reply'
    ),
    answered AS
    (
        SELECT a.id AS id, a.created_at AS asked_at, min(r.created_at) AS answered_at
        FROM asks AS a
        INNER JOIN replies AS r
            ON r.conversation_id = a.conversation_id AND r.in_reply_to_user_id = a.author_id
        WHERE r.created_at > a.created_at
        GROUP BY a.id, a.created_at
    )
SELECT
    toDate(a.created_at) AS day,
    count() AS asked,
    countIf(x.id != 0) AS answered,
    round(quantileExactIf(0.5)(dateDiff('second', x.asked_at, x.answered_at), x.id != 0) / 60, 1) AS median_minutes,
    round(quantileExactIf(0.9)(dateDiff('second', x.asked_at, x.answered_at), x.id != 0) / 60, 1) AS p90_minutes
FROM asks AS a
LEFT JOIN answered AS x ON x.id = a.id
GROUP BY day
ORDER BY day
