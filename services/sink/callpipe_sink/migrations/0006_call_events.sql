-- What happened to each call, one row per (call, event, stage): the one source of truth behind
-- GET /calls/{id}/status. Fed by the sink's events consumer (received = RecordingReady,
-- transcribed = TranscriptReady, consent_declined from callpipe.call-events, dead_lettered from
-- callpipe.dlq.<stage> with the x-callpipe-error-* headers) and by the view below (analyzed and
-- stored, when a row lands in calls). A redelivered event collapses on the key; a call that is
-- dead-lettered again at the same stage keeps its latest reason (recorded_at is the version).
CREATE TABLE IF NOT EXISTS {db:Identifier}.call_events
(
    call_id      String,
    event        LowCardinality(String),
    stage        LowCardinality(String),
    at           DateTime64(3, 'UTC'),
    error_class  LowCardinality(String),
    reason       String,
    attempts     UInt32,
    source_topic LowCardinality(String),
    recorded_at  DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(recorded_at)
ORDER BY (call_id, event, stage);

-- calls only receives analyses newer than the stored one (0003), so this fires once per stored
-- analysis: 'analyzed' at the analyzer's analyzed_at, 'stored' when the sink inserted it.
CREATE MATERIALIZED VIEW IF NOT EXISTS {db:Identifier}.call_events_from_calls_mv TO {db:Identifier}.call_events AS
SELECT
    call_id,
    e.1 AS event,
    e.2 AS stage,
    e.3 AS at,
    '' AS error_class,
    '' AS reason,
    toUInt32(0) AS attempts,
    '' AS source_topic,
    now64(3) AS recorded_at
FROM {db:Identifier}.calls
ARRAY JOIN [('analyzed', 'analyzer', toDateTime64(analyzed_at, 3, 'UTC')),
            ('stored', 'sink', toDateTime64(inserted_at, 3, 'UTC'))] AS e;
