"""``RecordingReady``: a call's recording is stored and can be transcribed (topic ``recordings``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from callpipe.models.common import CallMetadata, ChannelRole, Contract, RecordingSource, StageTiming


class RecordingReady(Contract):
    """A recording that is complete and reachable; the Kafka key is ``call_id``."""

    call_id: str = Field(description="Stable call identifier (Twilio CallSid or generated); Kafka key.")
    recording_id: str = Field(
        description="Recording identifier (Twilio RecordingSid, or sha256 of the uploaded bytes)."
    )
    source: RecordingSource = Field(description="twilio, upload or import.")
    audio_uri: str = Field(
        description="Where the audio is: https:// URL (Twilio), file:// or s3:// recording-store URI."
    )
    content_type: str | None = Field(default=None, description="MIME type of the audio, when known.")
    audio_sha256: str | None = Field(default=None, description="SHA-256 of the audio bytes, when known.")
    duration_s: float | None = Field(default=None, description="Recording duration in seconds, when known.")
    channel_count: int = Field(description="Number of audio channels (2 = one party per channel).")
    channel_roles: list[ChannelRole] = Field(
        default_factory=list, description="Channel → party map; empty for mono (roles by diarization)."
    )
    metadata: CallMetadata = Field(description="Call metadata from telephony or the uploader.")
    received_at: datetime = Field(description="When ingest accepted the recording (UTC).")
    timings: list[StageTiming] = Field(default_factory=list, description="Stage timings so far.")
