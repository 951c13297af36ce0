-- Real-time alerts (AlertRaised from the alerts job, topic callpipe.alerts) for the page, the API
-- (GET /alerts) and Grafana. alert_id is deterministic (rule, subject, window), so a redelivered
-- or re-raised alert collapses on the key.
CREATE TABLE IF NOT EXISTS {db:Identifier}.alerts
(
    alert_id        String,
    rule            LowCardinality(String),
    kind            LowCardinality(String),
    severity        LowCardinality(String),
    subject         String,
    window_start    DateTime64(3, 'UTC'),
    window_end      DateTime64(3, 'UTC'),
    value           Float64,
    baseline        Nullable(Float64),
    threshold       Float64,
    calls_in_window UInt32,
    message         String,
    sample_call_ids Array(String),
    raised_at       DateTime64(3, 'UTC'),
    recorded_at     DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(recorded_at)
ORDER BY alert_id;
