-- Hourly rollups fed by materialized views on calls. They count rows as inserted into calls,
-- and calls only receives analyses newer than the stored one (0003), so redeliveries and replays
-- never count twice; a re-analysis of a call (newer analyzed_at) does count again (documented).
-- Keys are kept narrow on purpose: with agent_id in the same key as intent the rollup would have
-- about one row per call at call-center volumes and stop being cheaper than calls itself.
CREATE TABLE IF NOT EXISTS {db:Identifier}.calls_hourly
(
    hour              DateTime('UTC'),
    intent            LowCardinality(String),
    queue             LowCardinality(String),
    calls             AggregateFunction(count),
    avg_satisfaction  AggregateFunction(avg, Nullable(UInt8)),
    escalations       AggregateFunction(countIf, UInt8),
    positive          AggregateFunction(countIf, UInt8),
    negative          AggregateFunction(countIf, UInt8),
    neutral           AggregateFunction(countIf, UInt8),
    mixed             AggregateFunction(countIf, UInt8),
    avg_silence_share AggregateFunction(avg, Float32),
    duration_s        AggregateFunction(sum, Float32)
)
ENGINE = AggregatingMergeTree
ORDER BY (hour, intent, queue);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db:Identifier}.calls_hourly_mv TO {db:Identifier}.calls_hourly AS
SELECT
    toStartOfHour(started_at) AS hour,
    intent,
    queue,
    countState() AS calls,
    avgState(satisfaction_score) AS avg_satisfaction,
    countIfState(toUInt8(escalation_risk = 'high')) AS escalations,
    countIfState(toUInt8(sentiment = 'positive')) AS positive,
    countIfState(toUInt8(sentiment = 'negative')) AS negative,
    countIfState(toUInt8(sentiment = 'neutral')) AS neutral,
    countIfState(toUInt8(sentiment = 'mixed')) AS mixed,
    avgState(silence_share) AS avg_silence_share,
    sumState(duration_s) AS duration_s
FROM {db:Identifier}.calls
GROUP BY hour, intent, queue;

CREATE TABLE IF NOT EXISTS {db:Identifier}.agents_hourly
(
    hour              DateTime('UTC'),
    agent_id          LowCardinality(String),
    queue             LowCardinality(String),
    calls             AggregateFunction(count),
    avg_satisfaction  AggregateFunction(avg, Nullable(UInt8)),
    escalations       AggregateFunction(countIf, UInt8),
    negative          AggregateFunction(countIf, UInt8),
    avg_caller_sentiment AggregateFunction(avg, Nullable(Float32)),
    avg_agent_talk_share AggregateFunction(avg, Nullable(Float32)),
    duration_s        AggregateFunction(sum, Float32)
)
ENGINE = AggregatingMergeTree
ORDER BY (hour, agent_id, queue);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db:Identifier}.agents_hourly_mv TO {db:Identifier}.agents_hourly AS
SELECT
    toStartOfHour(started_at) AS hour,
    agent_id,
    queue,
    countState() AS calls,
    avgState(satisfaction_score) AS avg_satisfaction,
    countIfState(toUInt8(escalation_risk = 'high')) AS escalations,
    countIfState(toUInt8(sentiment = 'negative')) AS negative,
    avgState(caller_sentiment_score) AS avg_caller_sentiment,
    avgState(agent_talk_share) AS avg_agent_talk_share,
    sumState(duration_s) AS duration_s
FROM {db:Identifier}.calls
GROUP BY hour, agent_id, queue;

CREATE TABLE IF NOT EXISTS {db:Identifier}.topics_hourly
(
    hour   DateTime('UTC'),
    topic  LowCardinality(String),
    queue  LowCardinality(String),
    calls  AggregateFunction(count)
)
ENGINE = AggregatingMergeTree
ORDER BY (hour, topic, queue);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db:Identifier}.topics_hourly_mv TO {db:Identifier}.topics_hourly AS
SELECT toStartOfHour(started_at) AS hour, topic, queue, countState() AS calls
FROM {db:Identifier}.calls
ARRAY JOIN arrayDistinct(key_topics) AS topic
GROUP BY hour, topic, queue;

CREATE TABLE IF NOT EXISTS {db:Identifier}.competitors_hourly
(
    hour       DateTime('UTC'),
    competitor LowCardinality(String),
    queue      LowCardinality(String),
    calls      AggregateFunction(count),
    mentions   AggregateFunction(sum, UInt32)
)
ENGINE = AggregatingMergeTree
ORDER BY (hour, competitor, queue);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db:Identifier}.competitors_hourly_mv TO {db:Identifier}.competitors_hourly AS
SELECT toStartOfHour(started_at) AS hour, competitor, queue, countState() AS calls, sumState(mentions) AS mentions
FROM {db:Identifier}.calls
ARRAY JOIN competitors AS competitor, competitor_counts AS mentions
GROUP BY hour, competitor, queue;
