-- One row per call. ReplacingMergeTree keyed on call_id with analyzed_at as the version: a
-- redelivered analysis collapses into one row, a re-analysis (newer analyzed_at) replaces it.
-- No time partitioning on purpose: replacement only happens inside a partition, and a call whose
-- started_at were corrected would otherwise keep two current rows.
CREATE TABLE IF NOT EXISTS {db:Identifier}.calls
(
    call_id                String,
    recording_id           String,
    source                 LowCardinality(String),
    status                 LowCardinality(String),
    language               LowCardinality(String),
    flags                  Array(LowCardinality(String)),
    -- analysis (NULL / empty when status is no_speech)
    has_analysis           Bool,
    summary                String,
    sentiment              LowCardinality(String),
    sentiment_score        Nullable(Float32),
    caller_sentiment       LowCardinality(String),
    caller_sentiment_score Nullable(Float32),
    agent_sentiment        LowCardinality(String),
    agent_sentiment_score  Nullable(Float32),
    intent                 LowCardinality(String),
    key_topics             Array(LowCardinality(String)),
    action_items           Array(String),
    action_item_owners     Array(LowCardinality(String)),
    satisfaction_score     Nullable(UInt8),
    escalation_risk        LowCardinality(String),
    competitors            Array(LowCardinality(String)),
    competitor_counts      Array(UInt32),
    custom_question_ids    Array(LowCardinality(String)),
    custom_answers         Array(String),
    -- conversation metrics
    duration_s             Float32,
    talk_time_s            Float32,
    silence_s              Float32,
    silence_share          Float32,
    overlap_s              Float32,
    turn_count             UInt32,
    longest_monologue_s    Float32,
    caller_talk_share      Nullable(Float32),
    agent_talk_share       Nullable(Float32),
    caller_words_per_minute Nullable(Float32),
    agent_words_per_minute Nullable(Float32),
    caller_interruptions   Nullable(UInt32),
    agent_interruptions    Nullable(UInt32),
    caller_turns           Nullable(UInt32),
    agent_turns            Nullable(UInt32),
    caller_sentiment_start Nullable(Float32),
    caller_sentiment_end   Nullable(Float32),
    redaction_enabled      Bool,
    redaction_counts       Map(LowCardinality(String), UInt32),
    -- engines, versions, cost
    analyzer               LowCardinality(String),
    analyzer_version       LowCardinality(String),
    model                  LowCardinality(String),
    prompt_version         LowCardinality(String),
    prompt_tokens          UInt32,
    completion_tokens      UInt32,
    total_tokens           UInt32,
    stt_engine             LowCardinality(String),
    stt_model              LowCardinality(String),
    audio_uri              String,
    audio_duration_s       Float32,
    -- call metadata from telephony / the uploader
    from_number            String,
    to_number              String,
    direction              LowCardinality(String),
    agent_id               LowCardinality(String),
    queue                  LowCardinality(String),
    consent                LowCardinality(String),
    attributes             Map(String, String),
    -- started_at falls back to received_at when telephony did not say; started_at_known tells.
    started_at             DateTime64(3, 'UTC'),
    started_at_known       Bool,
    received_at            DateTime64(6, 'UTC'),
    analyzed_at            DateTime64(6, 'UTC'),
    timing_stages          Array(LowCardinality(String)),
    timing_seconds         Array(Float32),
    inserted_at            DateTime64(3, 'UTC') DEFAULT now64(3),
    INDEX started_idx started_at TYPE minmax GRANULARITY 1
)
ENGINE = ReplacingMergeTree(analyzed_at)
ORDER BY call_id
-- Needed for insert_deduplication_token on a non-replicated table.
SETTINGS non_replicated_deduplication_window = 1000;
