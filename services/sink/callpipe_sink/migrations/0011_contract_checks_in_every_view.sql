-- One contract check in every view that reads analyses_in. The views run in parallel
-- (parallel_view_processing) and a failed insert does not undo what the other views wrote: with
-- the checks only in calls_from_analyses_mv, a batch holding one contract violation was refused
-- (and later split and dead-lettered) while utterances, utterance_versions, call_quality and
-- rollup_versions already held the rows of every call in it, the refused one included, so a
-- dead-lettered call could be found by /search and a replay could write its turns again.
-- Each view below now fails on the same rows before it writes anything, so a refused batch
-- leaves no row anywhere (tests/integration/sink/test_sink_writer_chdb.py checks every table).
-- A new view on analyses_in must carry the same WHERE clause. The checks come before the
-- version check, so a violation is refused even when a newer analysis is already stored.

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
WHERE throwIf(isNotNull(a.analysis) AND NOT (assumeNotNull(a.analysis).satisfaction_score BETWEEN 1 AND 10),
              'satisfaction_score outside 1-10') = 0
    AND throwIf(a.call_id = '' OR length(a.call_id) > 256, 'call_id empty or longer than 256') = 0
    AND throwIf(arrayExists(u -> isNotNull(u.channel) AND NOT (assumeNotNull(u.channel) BETWEEN 0 AND 255), a.utterances),
                'utterance channel outside 0-255') = 0
    AND a.analyzed_at > v.analyzed_at;

DROP VIEW IF EXISTS {db:Identifier}.utterances_from_analyses_mv;

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
WHERE throwIf(isNotNull(a.analysis) AND NOT (assumeNotNull(a.analysis).satisfaction_score BETWEEN 1 AND 10),
              'satisfaction_score outside 1-10') = 0
    AND throwIf(a.call_id = '' OR length(a.call_id) > 256, 'call_id empty or longer than 256') = 0
    AND throwIf(arrayExists(u -> isNotNull(u.channel) AND NOT (assumeNotNull(u.channel) BETWEEN 0 AND 255), a.utterances),
                'utterance channel outside 0-255') = 0
    AND a.analyzed_at > v.analyzed_at;

DROP VIEW IF EXISTS {db:Identifier}.rollup_seen_mv;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db:Identifier}.rollup_seen_mv TO {db:Identifier}.rollup_seen AS
SELECT
    a.call_id AS call_id,
    a.analyzed_at AS analyzed_at,
    toStartOfHour(ifNull(a.metadata.started_at, a.received_at)) AS hour,
    v.analyzed_at AS prior_analyzed_at,
    v.hour AS prior_hour
FROM {db:Identifier}.analyses_in AS a
LEFT JOIN {db:Identifier}.rollup_versions AS v ON a.call_id = v.call_id
WHERE throwIf(isNotNull(a.analysis) AND NOT (assumeNotNull(a.analysis).satisfaction_score BETWEEN 1 AND 10),
              'satisfaction_score outside 1-10') = 0
    AND throwIf(a.call_id = '' OR length(a.call_id) > 256, 'call_id empty or longer than 256') = 0
    AND throwIf(arrayExists(u -> isNotNull(u.channel) AND NOT (assumeNotNull(u.channel) BETWEEN 0 AND 255), a.utterances),
                'utterance channel outside 0-255') = 0
    AND a.analyzed_at > v.analyzed_at;

DROP VIEW IF EXISTS {db:Identifier}.call_quality_from_analyses_mv;

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
FROM {db:Identifier}.analyses_in AS a
WHERE throwIf(isNotNull(a.analysis) AND NOT (assumeNotNull(a.analysis).satisfaction_score BETWEEN 1 AND 10),
              'satisfaction_score outside 1-10') = 0
    AND throwIf(a.call_id = '' OR length(a.call_id) > 256, 'call_id empty or longer than 256') = 0
    AND throwIf(arrayExists(u -> isNotNull(u.channel) AND NOT (assumeNotNull(u.channel) BETWEEN 0 AND 255), a.utterances),
                'utterance channel outside 0-255') = 0;
