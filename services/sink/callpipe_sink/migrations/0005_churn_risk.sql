-- churn_risk (CallAnalyzed v2): the risk that the caller leaves, beside escalation_risk (the risk
-- that the caller escalates). Calls stored before this migration have '' (never assessed); an
-- older analyzer's message arriving later gets the contract's default, 'low' (writer_schemas.py).
-- Every statement is idempotent: columns are added IF NOT EXISTS, the views that select columns
-- by name are dropped IF EXISTS and created again with the new column. The sink applies
-- migrations before it consumes, so no batch is inserted while a view is being replaced.
ALTER TABLE {db:Identifier}.calls
    ADD COLUMN IF NOT EXISTS churn_risk LowCardinality(String) DEFAULT '' AFTER escalation_risk;

-- analyses_in mirrors the contract (v2); the sink resolves other writers' bodies to it first.
ALTER TABLE {db:Identifier}.analyses_in MODIFY COLUMN IF EXISTS
    analysis Nullable(Tuple(
        summary String,
        sentiment String,
        sentiment_score Float64,
        speaker_sentiment Array(Tuple(role String, sentiment String, score Float64)),
        intent String,
        key_topics Array(String),
        action_items Array(Tuple(text String, owner String)),
        satisfaction_score Int64,
        escalation_risk String,
        churn_risk String,
        competitor_mentions Array(Tuple(name String, count Int64, context Nullable(String))),
        custom_answers Array(Tuple(question_id String, answer String, evidence Nullable(String)))));

DROP VIEW IF EXISTS {db:Identifier}.calls_from_analyses_mv;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db:Identifier}.calls_from_analyses_mv TO {db:Identifier}.calls AS
WITH
    arrayFirstIndex(r -> r.role = 'caller', a.metrics.roles) AS ci,
    arrayFirstIndex(r -> r.role = 'agent', a.metrics.roles) AS ai,
    arrayFirstIndex(s -> s.role = 'caller', an.speaker_sentiment) AS cs,
    arrayFirstIndex(s -> s.role = 'agent', an.speaker_sentiment) AS ags,
    assumeNotNull(a.analysis) AS an
SELECT
    a.call_id AS call_id,
    a.recording_id AS recording_id,
    a.source AS source,
    a.status AS status,
    ifNull(a.language, '') AS language,
    a.flags AS flags,
    isNotNull(a.analysis) AS has_analysis,
    if(has_analysis, an.summary, '') AS summary,
    if(has_analysis, an.sentiment, '') AS sentiment,
    if(has_analysis, toFloat32(an.sentiment_score), NULL) AS sentiment_score,
    if(cs = 0, '', an.speaker_sentiment[cs].sentiment) AS caller_sentiment,
    if(cs = 0, NULL, toFloat32(an.speaker_sentiment[cs].score)) AS caller_sentiment_score,
    if(ags = 0, '', an.speaker_sentiment[ags].sentiment) AS agent_sentiment,
    if(ags = 0, NULL, toFloat32(an.speaker_sentiment[ags].score)) AS agent_sentiment_score,
    if(has_analysis, an.intent, '') AS intent,
    if(has_analysis, an.key_topics, []) AS key_topics,
    arrayMap(i -> i.text, an.action_items) AS action_items,
    arrayMap(i -> i.owner, an.action_items) AS action_item_owners,
    if(has_analysis, toUInt8(an.satisfaction_score), NULL) AS satisfaction_score,
    if(has_analysis, an.escalation_risk, '') AS escalation_risk,
    if(has_analysis, an.churn_risk, '') AS churn_risk,
    arrayMap(c -> c.name, an.competitor_mentions) AS competitors,
    arrayMap(c -> toUInt32(c.count), an.competitor_mentions) AS competitor_counts,
    arrayMap(x -> x.question_id, an.custom_answers) AS custom_question_ids,
    arrayMap(x -> x.answer, an.custom_answers) AS custom_answers,
    a.metrics.duration_s AS duration_s,
    a.metrics.talk_time_s AS talk_time_s,
    a.metrics.silence_s AS silence_s,
    a.metrics.silence_share AS silence_share,
    a.metrics.overlap_s AS overlap_s,
    toUInt32(a.metrics.turn_count) AS turn_count,
    a.metrics.longest_monologue_s AS longest_monologue_s,
    if(ci = 0, NULL, toFloat32(a.metrics.roles[ci].talk_share)) AS caller_talk_share,
    if(ai = 0, NULL, toFloat32(a.metrics.roles[ai].talk_share)) AS agent_talk_share,
    if(ci = 0, NULL, toFloat32(a.metrics.roles[ci].words_per_minute)) AS caller_words_per_minute,
    if(ai = 0, NULL, toFloat32(a.metrics.roles[ai].words_per_minute)) AS agent_words_per_minute,
    if(ci = 0, NULL, toUInt32(a.metrics.roles[ci].interruptions)) AS caller_interruptions,
    if(ai = 0, NULL, toUInt32(a.metrics.roles[ai].interruptions)) AS agent_interruptions,
    if(ci = 0, NULL, toUInt32(a.metrics.roles[ci].turns)) AS caller_turns,
    if(ai = 0, NULL, toUInt32(a.metrics.roles[ai].turns)) AS agent_turns,
    if(ci = 0, NULL, toFloat32(a.metrics.roles[ci].sentiment_start)) AS caller_sentiment_start,
    if(ci = 0, NULL, toFloat32(a.metrics.roles[ci].sentiment_end)) AS caller_sentiment_end,
    a.redaction.enabled AS redaction_enabled,
    CAST(a.redaction.counts, 'Map(LowCardinality(String), UInt32)') AS redaction_counts,
    a.analyzer AS analyzer,
    a.analyzer_version AS analyzer_version,
    a.model AS model,
    a.prompt_version AS prompt_version,
    toUInt32(a.token_usage.prompt_tokens) AS prompt_tokens,
    toUInt32(a.token_usage.completion_tokens) AS completion_tokens,
    toUInt32(a.token_usage.total_tokens) AS total_tokens,
    a.stt_engine AS stt_engine,
    a.stt_model AS stt_model,
    a.audio_uri AS audio_uri,
    a.audio_duration_s AS audio_duration_s,
    ifNull(a.metadata.from_number, '') AS from_number,
    ifNull(a.metadata.to_number, '') AS to_number,
    a.metadata.direction AS direction,
    ifNull(a.metadata.agent_id, '') AS agent_id,
    ifNull(a.metadata.queue, '') AS queue,
    a.metadata.consent AS consent,
    a.metadata.attributes AS attributes,
    -- started_at falls back to received_at when telephony did not say
    ifNull(a.metadata.started_at, a.received_at) AS started_at,
    isNotNull(a.metadata.started_at) AS started_at_known,
    a.received_at AS received_at,
    a.analyzed_at AS analyzed_at,
    arrayMap(t -> t.stage, a.timings) AS timing_stages,
    arrayMap(t -> toFloat32(t.seconds), a.timings) AS timing_seconds
FROM {db:Identifier}.analyses_in AS a
LEFT JOIN {db:Identifier}.call_versions AS v ON a.call_id = v.call_id
-- Contract checks Avro cannot express: throwIf fails the insert, the runner splits the batch and
-- dead-letters the offending message with its original bytes.
WHERE a.analyzed_at > v.analyzed_at
    AND throwIf(isNotNull(a.analysis) AND NOT (an.satisfaction_score BETWEEN 1 AND 10),
                'satisfaction_score outside 1-10') = 0
    AND throwIf(a.call_id = '' OR length(a.call_id) > 256, 'call_id empty or longer than 256') = 0;;

-- Rollups: calls with high churn risk per hour, beside escalations.
ALTER TABLE {db:Identifier}.calls_hourly
    ADD COLUMN IF NOT EXISTS churns AggregateFunction(countIf, UInt8) AFTER escalations;

DROP VIEW IF EXISTS {db:Identifier}.calls_hourly_mv;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db:Identifier}.calls_hourly_mv TO {db:Identifier}.calls_hourly AS
SELECT
    toStartOfHour(started_at) AS hour,
    intent,
    queue,
    countState() AS calls,
    avgState(satisfaction_score) AS avg_satisfaction,
    countIfState(toUInt8(escalation_risk = 'high')) AS escalations,
    countIfState(toUInt8(churn_risk = 'high')) AS churns,
    countIfState(toUInt8(sentiment = 'positive')) AS positive,
    countIfState(toUInt8(sentiment = 'negative')) AS negative,
    countIfState(toUInt8(sentiment = 'neutral')) AS neutral,
    countIfState(toUInt8(sentiment = 'mixed')) AS mixed,
    avgState(silence_share) AS avg_silence_share,
    sumState(duration_s) AS duration_s
FROM {db:Identifier}.calls
GROUP BY hour, intent, queue;

ALTER TABLE {db:Identifier}.agents_hourly
    ADD COLUMN IF NOT EXISTS churns AggregateFunction(countIf, UInt8) AFTER escalations;

DROP VIEW IF EXISTS {db:Identifier}.agents_hourly_mv;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db:Identifier}.agents_hourly_mv TO {db:Identifier}.agents_hourly AS
SELECT
    toStartOfHour(started_at) AS hour,
    agent_id,
    queue,
    countState() AS calls,
    avgState(satisfaction_score) AS avg_satisfaction,
    countIfState(toUInt8(escalation_risk = 'high')) AS escalations,
    countIfState(toUInt8(churn_risk = 'high')) AS churns,
    countIfState(toUInt8(sentiment = 'negative')) AS negative,
    avgState(caller_sentiment_score) AS avg_caller_sentiment,
    avgState(agent_talk_share) AS avg_agent_talk_share,
    sumState(duration_s) AS duration_s
FROM {db:Identifier}.calls
GROUP BY hour, agent_id, queue;
