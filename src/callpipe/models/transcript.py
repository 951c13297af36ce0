"""``TranscriptReady``: the call is transcribed with speaker roles (topic ``transcripts``)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from callpipe.models.common import CallMetadata, Contract, RecordingSource, Role, StageTiming


class TranscriptStatus(StrEnum):
    """Outcome of transcription (failures go to the dead-letter topic, not here)."""

    OK = "ok"
    NO_SPEECH = "no_speech"


class Word(Contract):
    """One recognized word with its timing."""

    word: str = Field(description="The word as recognized (punctuation attached).")
    start_s: float = Field(description="Start, seconds from the start of the recording.")
    end_s: float = Field(description="End, seconds from the start of the recording.")
    confidence: float | None = Field(default=None, description="Engine confidence 0–1, when given.")


class Utterance(Contract):
    """One turn of one speaker."""

    role: Role = Field(description="caller, agent or unknown.")
    speaker: str = Field(description="Speaker label: 'ch0'/'ch1' for channels, 'spk0'… for diarization.")
    channel: int | None = Field(default=None, description="Audio channel, for multichannel audio.")
    start_s: float = Field(description="Start, seconds from the start of the recording.")
    end_s: float = Field(description="End, seconds from the start of the recording.")
    text: str = Field(description="Recognized text.")
    confidence: float | None = Field(default=None, description="Engine confidence 0–1, when given.")
    words: list[Word] | None = Field(default=None, description="Word timings, when the engine gives them.")


class OverlapSpan(Contract):
    """A stretch of the recording where two voices talk at once."""

    start_s: float = Field(description="Start, seconds from the start of the recording.")
    end_s: float = Field(description="End, seconds from the start of the recording.")


class TranscriptReady(Contract):
    """A transcript of one call; the Kafka key is ``call_id``."""

    call_id: str = Field(description="Call identifier; Kafka key.")
    recording_id: str = Field(description="Recording identifier from RecordingReady.")
    source: RecordingSource = Field(description="How the recording entered callpipe.")
    status: TranscriptStatus = Field(description="ok, or no_speech for silent audio.")
    audio_uri: str = Field(description="Archived raw audio in the recording store (re-transcribe from here).")
    audio_duration_s: float = Field(description="Decoded audio duration in seconds.")
    channel_count: int = Field(description="Audio channels in the recording.")
    language: str | None = Field(default=None, description="Detected or configured language (ISO 639-1).")
    engine: str = Field(description="Speech-to-text engine, e.g. 'faster-whisper' or 'deepgram'.")
    model: str = Field(description="Engine model, e.g. 'tiny.en' or 'nova-3'.")
    utterances: list[Utterance] = Field(default_factory=list, description="Turns ordered by start time.")
    roles_low_confidence: bool = Field(
        default=False, description="True when speaker roles were assigned with low confidence (mono)."
    )
    role_confidence: float | None = Field(
        default=None, description="Confidence 0–1 of the role assignment (1 for channel-mapped audio)."
    )
    metadata: CallMetadata = Field(description="Call metadata carried from RecordingReady.")
    received_at: datetime = Field(description="When ingest accepted the recording (UTC).")
    timings: list[StageTiming] = Field(default_factory=list, description="Stage timings so far.")
    single_speaker: bool = Field(
        default=False,
        description=(
            "True when the recording holds one voice only (voicemail, IVR prompt, one side of a call):"
            " its utterances carry one role and there is no other party to analyse."
        ),
    )
    overlaps: list[OverlapSpan] = Field(
        default_factory=list,
        description=(
            "Mono recordings: where the speaker-segmentation network hears two people at once (the"
            " utterances give each moment to one voice, so their times alone cannot show it)."
            " Empty for channel-mapped audio, whose utterances overlap across channels."
        ),
    )
