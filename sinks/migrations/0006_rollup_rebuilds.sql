-- Minutes of the mentions_1m rollup to compute again from posts FINAL (sinks/rollup.py). The
-- sink marks a minute (pending = 1) before it writes a copy of a post that differs from a stored
-- copy in what the rollup counts (entries, topics, language, sentiment, author), and clears the
-- mark (pending = 0, `at` = when the rebuild began) once the minute is rebuilt. A mark made while
-- a rebuild ran is later than its start and stays pending.
CREATE TABLE IF NOT EXISTS rollup_rebuilds
(
    minute  DateTime('UTC'),
    pending UInt8,
    at      DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree(at)
ORDER BY minute;
