-- Erasure (GDPR/CCPA). erased_calls holds one tombstone per erased call, keyed by the SHA-256 of
-- its call id (no call id, number or text): the sink writer and the events consumer drop any
-- later redelivery of that call from Kafka, so an erased call never comes back.
CREATE TABLE IF NOT EXISTS {db:Identifier}.erased_calls
(
    call_hash String,
    erased_at DateTime64(3, 'UTC')
)
ENGINE = EmbeddedRocksDB
PRIMARY KEY call_hash;

-- The audit trail: who asked, when, by what kind of selector, how many calls, rows and objects.
-- No personal data: calls are named by the SHA-256 of their id, a phone number is never stored.
CREATE TABLE IF NOT EXISTS {db:Identifier}.erasures
(
    erasure_id      UUID,
    requested_at    DateTime64(3, 'UTC'),
    requested_by    String,
    selector        LowCardinality(String),
    calls           UInt32,
    call_hashes     Array(String),
    rows_deleted    Map(LowCardinality(String), UInt64),
    objects_deleted UInt32,
    seconds         Float32
)
ENGINE = MergeTree
ORDER BY (requested_at, erasure_id);
