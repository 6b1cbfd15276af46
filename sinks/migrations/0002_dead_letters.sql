-- Records a stage could not parse or process, with the reason and the original bytes.
-- `id` is a hash of the record's origin and bytes: the same record dead-lettered twice is one row.
CREATE TABLE IF NOT EXISTS dead_letters
(
    id         String,
    stage      LowCardinality(String),
    source     String,
    topic      String,
    partition  Int32,
    offset     Int64,
    reason     String,
    payload    String,
    failed_at  DateTime64(3, 'UTC'),
    stored_at  DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(stored_at)
ORDER BY id;
