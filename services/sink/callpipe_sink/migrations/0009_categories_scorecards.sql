-- Categories and QA scorecards (CallAnalyzed v3). Calls stored before this migration, and
-- messages of older writers, have none (the contract's default: empty arrays).
ALTER TABLE {db:Identifier}.analyses_in
    ADD COLUMN IF NOT EXISTS categories Array(Tuple(
        name String,
        evidence Array(Tuple(
            rule String,
            utterance_index Nullable(Int64),
            start_s Nullable(Float64),
            end_s Nullable(Float64),
            text String))));

ALTER TABLE {db:Identifier}.analyses_in
    ADD COLUMN IF NOT EXISTS scorecards Array(Tuple(
        form String,
        score Nullable(Float64),
        answers Array(Tuple(
            question_id String,
            weight Float64,
            passed Nullable(Bool),
            points Float64,
            reason String))));

-- One row per call and analysis, even with no category matched: ReplacingMergeTree(analyzed_at)
-- on call_id makes a redelivery collapse and a re-analysis replace the whole set (a category that
-- no longer matches disappears with it), so `FROM call_quality FINAL` is the current state and
-- the rollup views below never count a call twice. Evidence is parallel to `categories`,
-- answers parallel to `forms`. Erasure deletes from here too (lifecycle/erasure.py).
CREATE TABLE IF NOT EXISTS {db:Identifier}.call_quality
(
    call_id      String,
    analyzed_at  DateTime64(6, 'UTC'),
    started_at   DateTime64(3, 'UTC'),
    agent_id     LowCardinality(String),
    queue        LowCardinality(String),
    status       LowCardinality(String),
    categories   Array(LowCardinality(String)),
    evidence     Array(Array(Tuple(
        rule String,
        utterance_index Nullable(Int32),
        start_s Nullable(Float32),
        end_s Nullable(Float32),
        text String))),
    forms        Array(LowCardinality(String)),
    scores       Array(Nullable(Float32)),
    answers      Array(Array(Tuple(
        question_id String,
        weight Float32,
        passed Nullable(Bool),
        points Float32,
        reason String))),
    INDEX started_idx started_at TYPE minmax GRANULARITY 1,
    INDEX categories_idx categories TYPE bloom_filter GRANULARITY 1
)
ENGINE = ReplacingMergeTree(analyzed_at)
ORDER BY call_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db:Identifier}.call_quality_from_analyses_mv TO {db:Identifier}.call_quality AS
SELECT
    a.call_id AS call_id,
    a.analyzed_at AS analyzed_at,
    ifNull(a.metadata.started_at, a.received_at) AS started_at,
    ifNull(a.metadata.agent_id, '') AS agent_id,
    ifNull(a.metadata.queue, '') AS queue,
    a.status AS status,
    arrayMap(c -> c.name, a.categories) AS categories,
    arrayMap(c -> arrayMap(e -> (e.rule, CAST(e.utterance_index, 'Nullable(Int32)'),
                                 CAST(e.start_s, 'Nullable(Float32)'), CAST(e.end_s, 'Nullable(Float32)'),
                                 e.text), c.evidence), a.categories) AS evidence,
    arrayMap(s -> s.form, a.scorecards) AS forms,
    arrayMap(s -> CAST(s.score, 'Nullable(Float32)'), a.scorecards) AS scores,
    arrayMap(s -> arrayMap(q -> (q.question_id, toFloat32(q.weight), q.passed, toFloat32(q.points), q.reason),
                           s.answers), a.scorecards) AS answers
FROM {db:Identifier}.analyses_in AS a;

-- Rollups for the API and Grafana, read at query time from the current state (FINAL), so a
-- redelivery or a re-analysis is never counted twice: calls per category per day, and QA scores
-- per agent, form and day (weeks are sums of days: avg = score_sum / scored).
CREATE VIEW IF NOT EXISTS {db:Identifier}.categories_daily AS
SELECT
    toDate(started_at) AS day,
    category,
    queue,
    agent_id,
    count() AS calls
FROM {db:Identifier}.call_quality FINAL
ARRAY JOIN categories AS category
GROUP BY day, category, queue, agent_id;

CREATE VIEW IF NOT EXISTS {db:Identifier}.agent_scores_daily AS
SELECT
    toDate(started_at) AS day,
    agent_id,
    form,
    count() AS calls,
    countIf(score IS NOT NULL) AS scored,
    sum(ifNull(score, 0)) AS score_sum,
    avg(score) AS avg_score,
    min(score) AS min_score
FROM {db:Identifier}.call_quality FINAL
ARRAY JOIN forms AS form, scores AS score
GROUP BY day, agent_id, form;
