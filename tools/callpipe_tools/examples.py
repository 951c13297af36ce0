"""Fully populated example events, for tests, benchmarks and the schema round-trip checks.

They use every field of every contract (so a round trip through Avro proves the mapping covers
the whole model), with values shaped like a real inbound support call.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from callpipe.models import (
    ActionItem,
    AnalysisStatus,
    AnalyzedUtterance,
    CallAnalysis,
    CallAnalyzed,
    CallMetadata,
    CallMetrics,
    ChannelRole,
    ChurnRisk,
    CompetitorMention,
    Consent,
    CustomAnswer,
    Direction,
    EscalationRisk,
    RecordingReady,
    RecordingSource,
    RedactionInfo,
    Role,
    RoleMetrics,
    SentimentLabel,
    SpeakerSentiment,
    StageTiming,
    TokenUsage,
    TranscriptReady,
    TranscriptStatus,
    Utterance,
    Word,
)

__all__ = ["example_analysis", "example_metadata", "example_recording", "example_transcript"]

_T0 = datetime(2026, 11, 2, 14, 5, 0, 123456, tzinfo=UTC)


def example_metadata(*, agent_id: str = "agent-17", queue: str = "billing") -> CallMetadata:
    return CallMetadata(
        from_number="+15551230001",
        to_number="+15559870000",
        direction=Direction.INBOUND,
        agent_id=agent_id,
        queue=queue,
        started_at=_T0,
        consent=Consent.GRANTED,
        attributes={"campaign": "fall-promo", "crm_id": "C-1042"},
    )


def example_recording(call_id: str = "CA0000000000000000000000000000001") -> RecordingReady:
    return RecordingReady(
        call_id=call_id,
        recording_id="RE" + call_id[2:],
        source=RecordingSource.TWILIO,
        audio_uri=f"https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE{call_id[2:]}",
        content_type="audio/wav",
        audio_sha256="0" * 64,
        duration_s=42.5,
        channel_count=2,
        channel_roles=[ChannelRole(channel=0, role=Role.CALLER), ChannelRole(channel=1, role=Role.AGENT)],
        metadata=example_metadata(),
        received_at=_T0 + timedelta(minutes=3),
        timings=[StageTiming(stage="ingest.publish", seconds=0.004)],
    )


def _utterances() -> list[Utterance]:
    return [
        Utterance(
            role=Role.AGENT,
            speaker="ch1",
            channel=1,
            start_s=0.4,
            end_s=3.1,
            text="Thank you for calling Acme, this is Dana, how can I help?",
            confidence=0.93,
            words=[Word(word="Thank", start_s=0.4, end_s=0.6, confidence=0.99)],
        ),
        Utterance(
            role=Role.CALLER,
            speaker="ch0",
            channel=0,
            start_s=3.5,
            end_s=8.0,
            text="I was charged twice for my internet bill this month.",
            confidence=0.9,
            words=None,
        ),
    ]


def example_transcript(call_id: str = "CA0000000000000000000000000000001") -> TranscriptReady:
    recording = example_recording(call_id)
    return TranscriptReady(
        call_id=call_id,
        recording_id=recording.recording_id,
        source=recording.source,
        status=TranscriptStatus.OK,
        audio_uri=f"file:///var/callpipe/recordings/{call_id}.wav",
        audio_duration_s=42.5,
        channel_count=2,
        language="en",
        engine="faster-whisper",
        model="tiny.en",
        utterances=_utterances(),
        roles_low_confidence=False,
        role_confidence=1.0,
        metadata=recording.metadata,
        received_at=recording.received_at,
        timings=[*recording.timings, StageTiming(stage="transcriber.transcribe", seconds=2.1)],
    )


def example_analysis(
    call_id: str = "CA0000000000000000000000000000001",
    *,
    intent: str = "billing_dispute",
    agent_id: str = "agent-17",
    queue: str = "billing",
    started_at: datetime | None = None,
    topics: tuple[str, ...] = ("billing", "refund"),
) -> CallAnalyzed:
    transcript = example_transcript(call_id)
    metadata = example_metadata(agent_id=agent_id, queue=queue)
    if started_at is not None:
        metadata = metadata.model_copy(update={"started_at": started_at})
    return CallAnalyzed(
        call_id=call_id,
        recording_id=transcript.recording_id,
        source=transcript.source,
        status=AnalysisStatus.OK,
        language="en",
        flags=[],
        analysis=CallAnalysis(
            summary="Caller was double charged for internet; agent issued a refund.",
            sentiment=SentimentLabel.NEGATIVE,
            sentiment_score=-0.4,
            speaker_sentiment=[
                SpeakerSentiment(role=Role.CALLER, sentiment=SentimentLabel.NEGATIVE, score=-0.6),
                SpeakerSentiment(role=Role.AGENT, sentiment=SentimentLabel.POSITIVE, score=0.5),
            ],
            intent=intent,
            key_topics=list(topics),
            action_items=[ActionItem(text="Refund the duplicate charge within 5 days", owner=Role.AGENT)],
            satisfaction_score=6,
            escalation_risk=EscalationRisk.MEDIUM,
            churn_risk=ChurnRisk.MEDIUM,
            competitor_mentions=[CompetitorMention(name="Globex", count=1, context="Globex is cheaper.")],
            custom_answers=[CustomAnswer(question_id="offered_upgrade", answer="no", evidence=None)],
        ),
        metrics=CallMetrics(
            duration_s=42.5,
            talk_time_s=35.0,
            silence_s=7.5,
            silence_share=7.5 / 42.5,
            overlap_s=0.8,
            turn_count=2,
            longest_monologue_s=4.5,
            roles=[
                RoleMetrics(
                    role=Role.CALLER,
                    talk_time_s=20.0,
                    talk_share=20.0 / 42.5,
                    words=60,
                    words_per_minute=180.0,
                    turns=1,
                    interruptions=1,
                    longest_monologue_s=4.5,
                    sentiment_start=-0.7,
                    sentiment_end=-0.2,
                )
            ],
        ),
        redaction=RedactionInfo(enabled=True, counts={"card_number": 1}),
        analyzer="offline",
        analyzer_version="0.1.0",
        model="minilm-l6-v2+rules",
        prompt_version="offline-1",
        token_usage=TokenUsage(),
        stt_engine=transcript.engine,
        stt_model=transcript.model,
        audio_uri=transcript.audio_uri,
        audio_duration_s=transcript.audio_duration_s,
        utterances=[AnalyzedUtterance.of(u, 0.1) for u in transcript.utterances],
        metadata=metadata,
        received_at=transcript.received_at,
        analyzed_at=transcript.received_at + timedelta(seconds=30),
        timings=[*transcript.timings, StageTiming(stage="analyzer.analyze", seconds=0.2)],
    )
