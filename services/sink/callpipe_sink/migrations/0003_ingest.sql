-- The sink inserts each batch once, as Avro (the message bodies, undecoded by Python), into the
-- Null-engine table analyses_in; ClickHouse decodes it in C++ and the materialized views below
-- fan it out into calls and utterances. analyses_in mirrors the CallAnalyzed Avro contract (a
-- test compares it with the schema ClickHouse infers from schemas/); enums arrive as strings.
CREATE TABLE IF NOT EXISTS {db:Identifier}.analyses_in
(
    call_id String,
    recording_id String,
    source String,
    status String,
    language Nullable(String),
    flags Array(String),
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
        competitor_mentions Array(Tuple(name String, count Int64, context Nullable(String))),
        custom_answers Array(Tuple(question_id String, answer String, evidence Nullable(String))))),
    metrics Tuple(
        duration_s Float64,
        talk_time_s Float64,
        silence_s Float64,
        silence_share Float64,
        overlap_s Float64,
        turn_count Int64,
        longest_monologue_s Float64,
        roles Array(Tuple(
            role String,
            talk_time_s Float64,
            talk_share Float64,
            words Int64,
            words_per_minute Float64,
            turns Int64,
            interruptions Int64,
            longest_monologue_s Float64,
            sentiment_start Nullable(Float64),
            sentiment_end Nullable(Float64)))),
    redaction Tuple(enabled Bool, counts Map(String, Int64)),
    analyzer String,
    analyzer_version String,
    model String,
    prompt_version String,
    token_usage Tuple(prompt_tokens Int64, completion_tokens Int64, total_tokens Int64),
    stt_engine String,
    stt_model String,
    audio_uri String,
    audio_duration_s Float64,
    utterances Array(Tuple(
        role String,
        speaker String,
        channel Nullable(Int64),
        start_s Float64,
        end_s Float64,
        text String,
        sentiment Nullable(Float64))),
    metadata Tuple(
        from_number Nullable(String),
        to_number Nullable(String),
        direction String,
        agent_id Nullable(String),
        queue Nullable(String),
        started_at Nullable(DateTime64(6, 'UTC')),
        consent String,
        attributes Map(String, String)),
    received_at DateTime64(6, 'UTC'),
    analyzed_at DateTime64(6, 'UTC'),
    timings Array(Tuple(stage String, seconds Float64))
)
ENGINE = Null;

-- Newest stored analyzed_at per call, as key-value tables (point lookups by call_id, on disk).
-- The views into calls and utterances join the batch against them and keep only analyses newer
-- than what is stored: a redelivered batch or a replay from offset 0 inserts nothing, so the
-- rollups fed from calls never count a call twice. Each target has its own version table, so a
-- batch that failed between the two targets completes the missing one on retry.
CREATE TABLE IF NOT EXISTS {db:Identifier}.call_versions
(
    call_id String,
    analyzed_at DateTime64(6, 'UTC')
)
ENGINE = EmbeddedRocksDB
PRIMARY KEY call_id;

CREATE TABLE IF NOT EXISTS {db:Identifier}.utterance_versions
(
    call_id String,
    analyzed_at DateTime64(6, 'UTC')
)
ENGINE = EmbeddedRocksDB
PRIMARY KEY call_id;

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
    AND throwIf(a.call_id = '' OR length(a.call_id) > 256, 'call_id empty or longer than 256') = 0;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db:Identifier}.call_versions_mv TO {db:Identifier}.call_versions AS
SELECT call_id, max(analyzed_at) AS analyzed_at FROM {db:Identifier}.calls GROUP BY call_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db:Identifier}.utterances_from_analyses_mv TO {db:Identifier}.utterances AS
SELECT
    a.call_id AS call_id,
    a.analyzed_at AS analyzed_at,
    toUInt32(idx - 1) AS idx,
    u.role AS role,
    u.speaker AS speaker,
    CAST(u.channel, 'Nullable(UInt8)') AS channel,
    toFloat32(u.start_s) AS start_s,
    toFloat32(u.end_s) AS end_s,
    u.text AS text,
    CAST(u.sentiment, 'Nullable(Float32)') AS sentiment,
    ifNull(a.metadata.started_at, a.received_at) AS started_at
FROM {db:Identifier}.analyses_in AS a
LEFT JOIN {db:Identifier}.utterance_versions AS v ON a.call_id = v.call_id
ARRAY JOIN a.utterances AS u, arrayEnumerate(a.utterances) AS idx
WHERE a.analyzed_at > v.analyzed_at
    AND throwIf(u.channel IS NOT NULL AND NOT (u.channel BETWEEN 0 AND 255), 'utterance channel outside 0-255') = 0;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db:Identifier}.utterance_versions_mv TO {db:Identifier}.utterance_versions AS
SELECT call_id, max(analyzed_at) AS analyzed_at FROM {db:Identifier}.utterances GROUP BY call_id;
