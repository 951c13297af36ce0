-- One row per redacted utterance. analyzed_at is in the key so a re-analysis with fewer turns
-- does not leave stale turns mixed into the current ones: readers pick the call's current
-- analyzed_at. A redelivered analysis collapses on (call_id, analyzed_at, idx).
CREATE TABLE IF NOT EXISTS {db:Identifier}.utterances
(
    call_id     String,
    analyzed_at DateTime64(6, 'UTC'),
    idx         UInt32,
    role        LowCardinality(String),
    speaker     LowCardinality(String),
    channel     Nullable(UInt8),
    start_s     Float32,
    end_s       Float32,
    text        String,
    sentiment   Nullable(Float32),
    started_at  DateTime64(3, 'UTC'),
    -- Full-text index (ClickHouse text index) over the lower-cased text, for /search.
    INDEX text_idx lower(text) TYPE text(tokenizer = splitByNonAlpha)
)
ENGINE = ReplacingMergeTree
ORDER BY (call_id, analyzed_at, idx)
SETTINGS non_replicated_deduplication_window = 1000;
