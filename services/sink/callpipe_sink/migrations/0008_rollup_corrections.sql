-- Rollup corrections for re-analysed calls (callpipe reprocess). The hourly rollups (0004/0005)
-- are fed by views on calls, so a re-analysis (a newer analyzed_at replacing the stored row)
-- would count the call a second time, possibly under another intent. These tables note which
-- hours a replacement touched; the sink writer then recomputes exactly those hours of every
-- rollup from `calls FINAL` (lifecycle/rollup_correction.py) after the batch is written.
--
-- Calls stored before this migration have no rollup_versions row yet: the reprocessor writes it
-- (their stored version and hour) for each page it selects, before publishing it.
--
-- rollup_versions is read only by rollup_seen_mv and written downstream of it (the pattern of
-- 0003's version tables), so the check holds with parallel_view_processing.
CREATE TABLE IF NOT EXISTS {db:Identifier}.rollup_versions
(
    call_id     String,
    analyzed_at DateTime64(6, 'UTC'),
    hour        DateTime('UTC')
)
ENGINE = EmbeddedRocksDB
PRIMARY KEY call_id;

-- Each newer analysis with the version and hour the rollups counted before (zero when new).
CREATE TABLE IF NOT EXISTS {db:Identifier}.rollup_seen
(
    call_id           String,
    analyzed_at       DateTime64(6, 'UTC'),
    hour              DateTime('UTC'),
    prior_analyzed_at DateTime64(6, 'UTC'),
    prior_hour        DateTime('UTC')
)
ENGINE = Null;

-- Hours waiting for a recompute; the writer deletes the ones it recomputed.
CREATE TABLE IF NOT EXISTS {db:Identifier}.rollup_dirty_hours
(
    hour      DateTime('UTC'),
    marked_at DateTime64(3, 'UTC')
)
ENGINE = EmbeddedRocksDB
PRIMARY KEY hour;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db:Identifier}.rollup_seen_mv TO {db:Identifier}.rollup_seen AS
SELECT
    a.call_id AS call_id,
    a.analyzed_at AS analyzed_at,
    toStartOfHour(ifNull(a.metadata.started_at, a.received_at)) AS hour,
    v.analyzed_at AS prior_analyzed_at,
    v.hour AS prior_hour
FROM {db:Identifier}.analyses_in AS a
LEFT JOIN {db:Identifier}.rollup_versions AS v ON a.call_id = v.call_id
WHERE a.analyzed_at > v.analyzed_at;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db:Identifier}.rollup_versions_mv TO {db:Identifier}.rollup_versions AS
SELECT call_id, analyzed_at, hour FROM {db:Identifier}.rollup_seen;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db:Identifier}.rollup_dirty_mv TO {db:Identifier}.rollup_dirty_hours AS
SELECT arrayJoin(arrayDistinct([hour, prior_hour])) AS hour, now64(3) AS marked_at
FROM {db:Identifier}.rollup_seen
WHERE prior_analyzed_at > toDateTime64(0, 6, 'UTC');
