"""``CallAnalyzed``: metrics, redaction and the analysis of one call (topic ``analyses``).

``CallAnalysis`` is also the structured-output contract for LLM analyzers: its JSON schema is
generated from this model, so the LLM, the offline analyzer, Avro and ClickHouse share one shape.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from callpipe.models.common import CallMetadata, Contract, RecordingSource, Role, StageTiming
from callpipe.models.transcript import Utterance


class AnalysisStatus(StrEnum):
    """Whether there was anything to analyze."""

    OK = "ok"
    NO_SPEECH = "no_speech"
    UNSUPPORTED_LANGUAGE = "unsupported_language"


class SentimentLabel(StrEnum):
    """Sentiment class."""

    NEUTRAL = "neutral"
    POSITIVE = "positive"
    NEGATIVE = "negative"
    MIXED = "mixed"


class EscalationRisk(StrEnum):
    """Risk that the caller escalates (supervisor, formal complaint, legal, regulator, social media)."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class ChurnRisk(StrEnum):
    """Risk that the caller leaves (cancels, switches provider, takes a competitor's offer)."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class SpeakerSentiment(Contract):
    """Sentiment of one party over the whole call."""

    role: Role = Field(description="caller or agent.")
    sentiment: SentimentLabel = Field(description="Sentiment class of this party.")
    score: float = Field(description="Sentiment score from -1 (negative) to 1 (positive).")


class ActionItem(Contract):
    """A follow-up someone committed to during the call."""

    text: str = Field(description="What has to be done.")
    owner: Role = Field(default=Role.AGENT, description="Who committed to it.")


class CompetitorMention(Contract):
    """A competitor named in the call."""

    name: str = Field(description="Competitor name as configured (canonical spelling).")
    count: int = Field(description="Times it was mentioned.")
    context: str | None = Field(default=None, description="One (redacted) sentence where it appears.")


class CustomAnswer(Contract):
    """Answer to one configured custom question (e.g. 'did the agent offer the upgrade?')."""

    question_id: str = Field(description="Identifier of the question in the analysis configuration.")
    answer: str = Field(description="'yes'/'no' for yes-no questions, else a short extraction.")
    evidence: str | None = Field(default=None, description="Quote supporting the answer, when any.")


class CallAnalysis(Contract):
    """The analysis proper; field names follow the original seed script's output."""

    summary: str = Field(description="Two to four sentence summary of the call.")
    sentiment: SentimentLabel = Field(description="Overall sentiment of the call.")
    sentiment_score: float = Field(description="Overall sentiment score from -1 to 1.")
    speaker_sentiment: list[SpeakerSentiment] = Field(
        default_factory=list, description="Sentiment per party."
    )
    intent: str = Field(description="Primary caller intent, one label of the configured taxonomy.")
    key_topics: list[str] = Field(default_factory=list, description="Topics discussed (configured list).")
    action_items: list[ActionItem] = Field(default_factory=list, description="Follow-ups committed to.")
    satisfaction_score: int = Field(ge=1, le=10, description="Estimated caller satisfaction, 1–10.")
    escalation_risk: EscalationRisk = Field(
        description="Risk that the caller escalates: supervisor, complaint, legal, social media."
    )
    churn_risk: ChurnRisk = Field(
        default=ChurnRisk.LOW,
        description="Risk that the caller leaves: cancels, switches, takes a competitor's offer.",
    )
    competitor_mentions: list[CompetitorMention] = Field(
        default_factory=list, description="Competitors named in the call."
    )
    custom_answers: list[CustomAnswer] = Field(
        default_factory=list, description="Answers to the configured custom questions."
    )


class RoleMetrics(Contract):
    """Conversation metrics of one party."""

    role: Role = Field(description="caller or agent.")
    talk_time_s: float = Field(description="Seconds this party spoke.")
    talk_share: float = Field(description="Share of the call's duration this party spoke, 0–1.")
    words: int = Field(description="Words spoken.")
    words_per_minute: float = Field(description="Speaking rate over this party's talk time.")
    turns: int = Field(description="Utterances (turns) by this party.")
    interruptions: int = Field(description="Times this party started while the other was speaking.")
    longest_monologue_s: float = Field(description="Longest uninterrupted stretch of speech.")
    sentiment_start: float | None = Field(default=None, description="Mean sentiment, first third.")
    sentiment_end: float | None = Field(default=None, description="Mean sentiment, last third.")


class CallMetrics(Contract):
    """Conversation metrics computed from the transcript, always present."""

    duration_s: float = Field(description="Audio duration in seconds.")
    talk_time_s: float = Field(description="Seconds with at least one party speaking.")
    silence_s: float = Field(description="Seconds with nobody speaking (non-talk time).")
    silence_share: float = Field(description="silence_s / duration_s.")
    overlap_s: float = Field(description="Seconds with both parties speaking.")
    turn_count: int = Field(description="Number of utterances.")
    longest_monologue_s: float = Field(description="Longest uninterrupted stretch of one speaker.")
    roles: list[RoleMetrics] = Field(default_factory=list, description="Metrics per party.")


class RedactionInfo(Contract):
    """What PII/PCI redaction did before text left the analyzer."""

    enabled: bool = Field(description="Whether redaction ran.")
    counts: dict[str, int] = Field(
        default_factory=dict, description="Redacted spans per type (card_number, ssn, email, …)."
    )


class TokenUsage(Contract):
    """LLM tokens spent on the call (zero for the offline analyzer)."""

    prompt_tokens: int = Field(default=0, description="Prompt (input) tokens.")
    completion_tokens: int = Field(default=0, description="Completion (output) tokens.")
    total_tokens: int = Field(default=0, description="Total tokens.")


class AnalyzedUtterance(Contract):
    """A redacted turn as stored in the warehouse."""

    role: Role = Field(description="caller, agent or unknown.")
    speaker: str = Field(description="Speaker label from the transcript.")
    channel: int | None = Field(default=None, description="Audio channel, when multichannel.")
    start_s: float = Field(description="Start, seconds.")
    end_s: float = Field(description="End, seconds.")
    text: str = Field(description="Text after PII/PCI redaction.")
    sentiment: float | None = Field(default=None, description="Utterance sentiment from -1 to 1.")

    @classmethod
    def of(cls, utterance: Utterance, sentiment: float | None) -> AnalyzedUtterance:
        """The stored form of a (redacted) transcript turn with its sentiment."""
        return cls(
            role=utterance.role,
            speaker=utterance.speaker,
            channel=utterance.channel,
            start_s=utterance.start_s,
            end_s=utterance.end_s,
            text=utterance.text,
            sentiment=sentiment,
        )


class CategoryEvidence(Contract):
    """What made a category match: an utterance (index, time, snippet) or a call-level fact."""

    rule: str = Field(description="The rule that matched, e.g. 'phrase agent: supervisor'.")
    utterance_index: int | None = Field(
        default=None, description="Index into the call's utterances; null for call-level facts."
    )
    start_s: float | None = Field(default=None, description="Start of the evidence, seconds.")
    end_s: float | None = Field(default=None, description="End of the evidence, seconds.")
    text: str = Field(default="", description="Snippet of the (redacted) utterance or the fact.")


class CategoryMatch(Contract):
    """A configured category that matched the call, with its evidence."""

    name: str = Field(description="Category name as configured in the analysis configuration.")
    evidence: list[CategoryEvidence] = Field(default_factory=list, description="Why it matched.")


class ScorecardAnswer(Contract):
    """One question of a QA form, answered for one call."""

    question_id: str = Field(description="Question identifier in the form.")
    weight: float = Field(description="Weight of the question in the form.")
    passed: bool | None = Field(default=None, description="Pass/fail; null when not applicable.")
    points: float = Field(default=0.0, description="Points earned (weight when passed, else 0).")
    reason: str = Field(default="", description="Why it passed, failed or does not apply.")


class Scorecard(Contract):
    """A QA form scored automatically for one call."""

    form: str = Field(description="Form identifier in the analysis configuration.")
    score: float | None = Field(
        default=None, description="0-100: points over the weights of applicable questions; null if none."
    )
    answers: list[ScorecardAnswer] = Field(default_factory=list, description="Per-question result.")


class CallAnalyzed(Contract):
    """The analysis of one call; the Kafka key is ``call_id``."""

    call_id: str = Field(description="Call identifier; Kafka key.")
    recording_id: str = Field(description="Recording identifier.")
    source: RecordingSource = Field(description="How the recording entered callpipe.")
    status: AnalysisStatus = Field(description="ok, no_speech or unsupported_language.")
    language: str | None = Field(default=None, description="Language of the transcript.")
    flags: list[str] = Field(
        default_factory=list, description="Quality flags, e.g. 'roles_low_confidence', 'chunked'."
    )
    analysis: CallAnalysis | None = Field(default=None, description="The analysis; null when no speech.")
    metrics: CallMetrics = Field(description="Conversation metrics.")
    redaction: RedactionInfo = Field(description="What redaction did.")
    analyzer: str = Field(description="Analyzer kind: 'offline' or 'llm'.")
    analyzer_version: str = Field(description="callpipe analyzer version.")
    model: str = Field(description="Model that produced the analysis.")
    prompt_version: str = Field(description="Version of the prompt / rule set.")
    token_usage: TokenUsage = Field(default_factory=TokenUsage, description="LLM token usage.")
    stt_engine: str = Field(description="Speech-to-text engine of the transcript.")
    stt_model: str = Field(description="Speech-to-text model of the transcript.")
    audio_uri: str = Field(description="Archived raw audio.")
    audio_duration_s: float = Field(description="Audio duration in seconds.")
    utterances: list[AnalyzedUtterance] = Field(default_factory=list, description="Redacted turns.")
    metadata: CallMetadata = Field(description="Call metadata carried from ingest.")
    received_at: datetime = Field(description="When ingest accepted the recording (UTC).")
    analyzed_at: datetime = Field(description="When the analysis finished (UTC).")
    timings: list[StageTiming] = Field(default_factory=list, description="Stage timings of every stage.")
    categories: list[CategoryMatch] = Field(
        default_factory=list, description="Configured categories that matched, with evidence (v3)."
    )
    scorecards: list[Scorecard] = Field(
        default_factory=list, description="QA forms scored for this call (v3)."
    )
