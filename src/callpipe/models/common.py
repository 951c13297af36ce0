"""Value types shared by the three event contracts (enumerations, call metadata, timings).

Every field carries a ``description``: it becomes the ``doc`` of the Avro field, so the contract in
schemas/ is documented in one place. Enumerations list their fallback symbol first: Avro readers
use it (the enum ``default``) when a newer writer sends a symbol they do not know.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

AVRO_NAMESPACE = "callpipe.v1"


class Contract(BaseModel):
    """Base of every model that is an Avro record: strict about unknown fields, immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)


class Role(StrEnum):
    """Who is speaking."""

    UNKNOWN = "unknown"
    CALLER = "caller"
    AGENT = "agent"


class RecordingSource(StrEnum):
    """How the recording entered callpipe."""

    UPLOAD = "upload"
    TWILIO = "twilio"
    IMPORT = "import"


class Direction(StrEnum):
    """Direction of the call from the call center's point of view."""

    UNKNOWN = "unknown"
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class Consent(StrEnum):
    """Recording consent as captured by telephony (a declined call never produces a recording)."""

    UNKNOWN = "unknown"
    GRANTED = "granted"
    NOT_REQUIRED = "not_required"


class ChannelRole(Contract):
    """Which party is on one audio channel."""

    channel: int = Field(description="Zero-based audio channel index.")
    role: Role = Field(description="Party recorded on that channel.")


class CallMetadata(Contract):
    """Facts about the call from telephony or the uploader, carried unchanged through every stage."""

    from_number: str | None = Field(default=None, description="Calling number (E.164 when known).")
    to_number: str | None = Field(default=None, description="Called number (E.164 when known).")
    direction: Direction = Field(default=Direction.UNKNOWN, description="Inbound or outbound.")
    agent_id: str | None = Field(default=None, description="Agent identifier from telephony or upload.")
    queue: str | None = Field(default=None, description="Queue / skill group the call was routed to.")
    started_at: datetime | None = Field(default=None, description="When the call started (UTC).")
    consent: Consent = Field(default=Consent.UNKNOWN, description="Recording consent state.")
    attributes: dict[str, str] = Field(
        default_factory=dict, description="Free-form string attributes (CRM ids, campaign, …)."
    )


class StageTiming(Contract):
    """Wall-clock time one stage (or step of a stage) spent on the call."""

    stage: str = Field(description="Stage and step, e.g. 'transcriber.download'.")
    seconds: float = Field(description="Elapsed seconds.")
