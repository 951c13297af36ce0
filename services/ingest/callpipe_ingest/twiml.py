"""TwiML for incoming calls: disclosure, optional consent gate, and a dual-channel recorded <Dial>.

Call metadata (numbers, direction, queue, agent, start time, consent) travels to the recording
status callback inside the callback URL's query string. Twilio signs the full URL, so the
metadata arrives tamper-proof and no per-call state is kept between webhooks.

Channel order: with ``record="record-from-answer-dual"`` Twilio puts the parent call leg on the
first channel and the dialed (child) leg on the second. Our parent leg is always the customer
(the caller of an inbound call, the called customer of an outbound-api call) and the dialed leg
is the agent, hence channel 0 = caller, channel 1 = agent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from urllib.parse import urlencode

from twilio.twiml.voice_response import Dial, VoiceResponse

from callpipe.models import CallMetadata, ChannelRole, Consent, Direction, Role
from callpipe_ingest.settings import IngestSettings

__all__ = [
    "DUAL_CHANNEL_ROLES",
    "CallContext",
    "ConsentAnswer",
    "consent_decision",
    "consent_gate_twiml",
    "context_from_query",
    "dial_twiml",
    "metadata_from_query",
]

# record-from-answer-dual: first channel = parent leg (customer), second = dialed leg (agent).
DUAL_CHANNEL_ROLES = (ChannelRole(channel=0, role=Role.CALLER), ChannelRole(channel=1, role=Role.AGENT))

_YES = frozenset({"yes", "yeah", "yep", "sure", "ok", "okay", "accept", "agree", "fine"})
_NO = frozenset({"no", "nope", "decline", "don't", "dont", "not", "refuse"})


@dataclass(frozen=True)
class CallContext:
    """Facts about the call known when the voice webhook arrives, carried in signed URLs."""

    from_number: str | None = None
    to_number: str | None = None
    direction: Direction = Direction.UNKNOWN
    agent_id: str | None = None
    queue: str | None = None
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    consent: Consent = Consent.UNKNOWN

    @classmethod
    def from_voice_webhook(cls, params: dict[str, str], settings: IngestSettings) -> CallContext:
        kind, _, target = settings.dial_target.partition(":")
        queue = target if kind == "queue" else None
        agent = target if kind in ("client", "sip") else None
        if kind not in ("queue", "client", "sip"):
            agent = settings.dial_target  # a phone number
        raw_direction = params.get("Direction", "")
        direction = (
            Direction.INBOUND
            if raw_direction == "inbound"
            else Direction.OUTBOUND
            if raw_direction.startswith("outbound")
            else Direction.UNKNOWN
        )
        return cls(
            from_number=params.get("From") or None,
            to_number=params.get("To") or None,
            direction=direction,
            agent_id=agent,
            queue=queue,
        )

    def query(self, **extra: str) -> str:
        values = {
            "from": self.from_number,
            "to": self.to_number,
            "dir": self.direction.value,
            "agent": self.agent_id,
            "queue": self.queue,
            "started": self.started_at.isoformat(timespec="seconds"),
            "consent": self.consent.value,
            **extra,
        }
        return urlencode({k: v for k, v in values.items() if v})

    def with_consent(self, consent: Consent) -> CallContext:
        return CallContext(
            self.from_number,
            self.to_number,
            self.direction,
            self.agent_id,
            self.queue,
            self.started_at,
            consent,
        )


def context_from_query(query: dict[str, str]) -> CallContext:
    """Inverse of CallContext.query (unknown or malformed values fall back to 'unknown')."""
    try:
        started = datetime.fromisoformat(query["started"]) if query.get("started") else None
    except ValueError:
        started = None
    if started is not None and started.tzinfo is None:
        started = started.replace(tzinfo=UTC)
    return CallContext(
        from_number=query.get("from") or None,
        to_number=query.get("to") or None,
        direction=_direction(query.get("dir")),
        agent_id=query.get("agent") or None,
        queue=query.get("queue") or None,
        started_at=started or datetime.now(UTC),
        consent=_consent(query.get("consent")),
    )


def metadata_from_query(query: dict[str, str], started_at: datetime | None = None) -> CallMetadata:
    ctx = context_from_query(query)
    return CallMetadata(
        from_number=ctx.from_number,
        to_number=ctx.to_number,
        direction=ctx.direction,
        agent_id=ctx.agent_id,
        queue=ctx.queue,
        started_at=started_at or (ctx.started_at if query.get("started") else None),
        consent=ctx.consent,
    )


def _direction(value: str | None) -> Direction:
    try:
        return Direction(value or "unknown")
    except ValueError:
        return Direction.UNKNOWN


def _consent(value: str | None) -> Consent:
    try:
        return Consent(value or "unknown")
    except ValueError:
        return Consent.UNKNOWN


def _say(response: VoiceResponse, text: str, settings: IngestSettings) -> None:
    if text:
        response.say(text, voice=settings.voice, language=settings.language)


def consent_gate_twiml(settings: IngestSettings, base_url: str, ctx: CallContext, attempt: int = 1) -> str:
    """Disclosure (first attempt only) and a <Gather> for key 1/2 or yes/no speech."""
    response = VoiceResponse()
    if attempt == 1:
        _say(response, settings.disclosure, settings)
    action = f"{base_url}/twilio/consent?{ctx.query(attempt=str(attempt))}"
    gather = response.gather(
        input="dtmf speech",
        num_digits=1,
        timeout=6,
        speech_timeout="auto",
        hints="yes, no",
        action=action,
        method="POST",
        language=settings.language,
    )
    gather.say(settings.consent_prompt, voice=settings.voice, language=settings.language)
    # No input at all: Twilio falls through to the next verb; tell the consent route it was silence.
    response.redirect(f"{base_url}/twilio/consent?{ctx.query(attempt=str(attempt), silence='1')}")
    return str(response)


class ConsentAnswer(StrEnum):
    GRANTED = "granted"
    DECLINED = "declined"
    UNCLEAR = "unclear"  # asked again, then the configured silence default applies


def consent_decision(digits: str | None, speech: str | None) -> ConsentAnswer:
    """Key 1 or a yes-word grants; key 2 or a no-word declines; anything else is unclear."""
    if digits:
        return {"1": ConsentAnswer.GRANTED, "2": ConsentAnswer.DECLINED}.get(
            digits.strip()[:1], ConsentAnswer.UNCLEAR
        )
    words = set((speech or "").lower().replace(".", " ").replace(",", " ").replace("?", " ").split())
    if words & _NO:
        return ConsentAnswer.DECLINED  # "no, I don't agree": a refusal wins over any yes-like word
    if words & _YES:
        return ConsentAnswer.GRANTED
    return ConsentAnswer.UNCLEAR


def dial_twiml(
    settings: IngestSettings, base_url: str, ctx: CallContext, *, record: bool, say_disclosure: bool
) -> str:
    """Connect the caller to the agent target, recording both legs on two channels when ``record``."""
    response = VoiceResponse()
    if say_disclosure:
        _say(response, settings.disclosure, settings)
    if record:
        dial = response.dial(
            answer_on_bridge=True,
            record="record-from-answer-dual",
            recording_status_callback=f"{base_url}/twilio/recording-status?{ctx.query()}",
            recording_status_callback_method="POST",
            recording_status_callback_event="completed absent",
        )
    else:
        dial = response.dial(answer_on_bridge=True)
    _add_target(dial, settings.dial_target)
    return str(response)


def _add_target(dial: Dial, target: str) -> None:
    kind, _, rest = target.partition(":")
    if kind == "queue":
        dial.queue(rest)
    elif kind == "client":
        dial.client(rest)
    elif kind == "sip":
        dial.sip(target)
    else:
        dial.number(target)
