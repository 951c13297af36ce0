-- What erasure needs to find a call that never reached `calls` (dead-lettered, still in flight,
-- consent declined): the `received` event keeps where its audio is (audio_uri, recording_id,
-- source, from the RecordingReady record) and every event that names the parties keeps the
-- SHA-256 of their numbers (party_hashes; the number itself is not stored here), so
-- `callpipe erase --phone` finds these calls too. Erased with the call's other call_events rows.
ALTER TABLE {db:Identifier}.call_events
    ADD COLUMN IF NOT EXISTS audio_uri String DEFAULT '',
    ADD COLUMN IF NOT EXISTS recording_id String DEFAULT '',
    ADD COLUMN IF NOT EXISTS source LowCardinality(String) DEFAULT '',
    ADD COLUMN IF NOT EXISTS party_hashes Array(String) DEFAULT [];

-- erase --phone looks for one hash among all events: a bloom filter skips the granules without it
-- instead of reading every row's hashes (most events carry none).
ALTER TABLE {db:Identifier}.call_events
    ADD INDEX IF NOT EXISTS party_hashes_bf party_hashes TYPE bloom_filter(0.01) GRANULARITY 1;
