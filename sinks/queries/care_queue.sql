-- Customer-care queue: questions, complaints and requests addressed to an official account (a
-- mention or a reply) that no official account has answered yet, oldest first, with their wait.
-- A post counts as answered once an official account replies to it (or, in its conversation,
-- to its author after it). `as_of` defaults to the newest post (event time).
-- param entry: String = ''                        entry whose official accounts are addressed; '' all
-- param as_of: String = ''                        the moment waits are measured at; '' newest post
-- param limit: UInt32 = 100                       how many posts
-- example: veille query care_queue --param entry='Orbital Telecom'
WITH
    if({as_of:String} = '', (SELECT max(created_at) FROM posts), parseDateTime64BestEffort({as_of:String}, 3, 'UTC')) AS t_now,
    official_replies AS
    (
        SELECT replied_to_id, conversation_id, in_reply_to_user_id, created_at
        FROM posts FINAL
        WHERE author_entry != '' AND kind = 'reply' AND created_at <= t_now
    )
SELECT
    toString(q.id) AS id,
    q.created_at AS created_at,
    q.author_username AS author,
    q.intent AS intent,
    q.addressed AS addressed,
    dateDiff('minute', q.created_at, t_now) AS wait_minutes,
    q.text AS text
FROM posts AS q FINAL
WHERE q.intent IN ('question', 'complaint', 'request') AND q.kind != 'retweet'
  AND q.author_entry = ''
  AND notEmpty(q.addressed)
  AND q.created_at <= t_now
  AND ({entry:String} = '' OR has(q.entries, {entry:String}))
  AND q.id NOT IN (SELECT replied_to_id FROM official_replies)
  AND (q.conversation_id, q.author_id) NOT IN
      (SELECT conversation_id, in_reply_to_user_id FROM official_replies)
ORDER BY q.created_at, q.id
LIMIT {limit:UInt32}
