"""Speaker roles: which channel or diarized speaker is the agent and which the caller.

Dual-channel audio: the channel map comes from the event. When ingest sent none, Twilio's
dual-channel convention applies: the first channel (0) is the *parent* call leg and the second
(1) the *child* leg created by <Dial>. On an inbound call the parent leg is the caller and the
agent is dialed (ch0 = caller, ch1 = agent); on an outbound call placed by the agent's system it is
the other way round (ch0 = agent, ch1 = caller). With no direction known, roles are assigned from
the words as for mono audio, and flagged when unsure.

Mono audio (diarized speakers) and unmapped channels: each speaker gets an agent score from
agent-phrase cues ("thank you for calling", "my name is", "how can I help", …, weighted more in
the first ``opening_s`` seconds), minus caller-phrase cues ("I want to cancel", "my bill", …),
plus a bonus for speaking first when ``first_speaker_role`` is agent (inbound calls usually
open with the agent's greeting). The higher score is the agent. The margin between the two
scores gives the confidence; below ``min_confidence`` the transcript is flagged
``roles_low_confidence`` — roles are never silently guessed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from callpipe.models import ChannelRole, Direction, Role

__all__ = ["RoleAssignment", "RoleCues", "assign_roles", "channel_roles_for"]

DEFAULT_AGENT_PHRASES: tuple[str, ...] = (
    "thank you for calling",
    "thanks for calling",
    "my name is",
    "this is",
    "speaking",
    "how can i help",
    "how may i help",
    "how can i assist",
    "what can i do for you",
    "you have reached",
    "you've reached",
    "welcome to",
    "is there anything else",
    "have a nice day",
    "have a good",
    "i can help",
    "let me check",
    "i will send",
    "i'll send",
    "for your patience",
    "i am sorry",
    "i'm sorry",
    "can i have your",
    "could you",
)
DEFAULT_CALLER_PHRASES: tuple[str, ...] = (
    "i want to",
    "i would like",
    "i'd like",
    "my bill",
    "my account",
    "i was charged",
    "i ordered",
    "my internet",
    "i need",
    "cancel my",
    "my parcel",
    "has not arrived",
    "hello?",
)


@dataclass(frozen=True, slots=True)
class RoleCues:
    """Configurable cues for role assignment."""

    agent_phrases: tuple[str, ...] = DEFAULT_AGENT_PHRASES
    caller_phrases: tuple[str, ...] = DEFAULT_CALLER_PHRASES
    first_speaker_role: Role = Role.AGENT
    first_speaker_weight: float = 1.0
    opening_s: float = 30.0
    opening_weight: float = 2.0
    min_confidence: float = 0.7


@dataclass(frozen=True, slots=True)
class RoleAssignment:
    roles: dict[str, Role]
    confidence: float
    low_confidence: bool
    evidence: dict[str, float] = field(default_factory=dict)


def channel_roles_for(
    channel_count: int, mapped: Sequence[ChannelRole], direction: Direction
) -> dict[int, Role] | None:
    """Channel → role from the event, else Twilio's convention by direction; None = decide by cues."""
    if mapped:
        return {cr.channel: cr.role for cr in mapped}
    if channel_count != 2:
        return None
    if direction is Direction.INBOUND:
        return {0: Role.CALLER, 1: Role.AGENT}
    if direction is Direction.OUTBOUND:
        return {0: Role.AGENT, 1: Role.CALLER}
    return None


def _count(phrases: Sequence[str], text: str) -> int:
    return sum(len(re.findall(rf"(?<!\w){re.escape(p)}(?!\w)", text)) for p in phrases)


def assign_roles(
    speech: Sequence[tuple[str, float, str]], cues: RoleCues, *, diarization_quality: float = 1.0
) -> RoleAssignment:
    """Assign agent/caller to two speakers from ``(speaker, start_s, text)`` utterances.

    ``diarization_quality`` (0–1) scales the confidence: roles are only as sure as the speaker
    separation they rest on.
    """
    speakers = list(dict.fromkeys(s for s, _, _ in speech))
    if not speakers:
        return RoleAssignment(roles={}, confidence=0.0, low_confidence=True)
    scores = dict.fromkeys(speakers, 0.0)
    first = min(speech, key=lambda u: u[1])[0]
    phrase_hits = 0
    for speaker, start, text in speech:
        lowered = text.lower()
        weight = cues.opening_weight if start < cues.opening_s else 1.0
        agent_hits, caller_hits = _count(cues.agent_phrases, lowered), _count(cues.caller_phrases, lowered)
        phrase_hits += agent_hits + caller_hits
        scores[speaker] += weight * (agent_hits - caller_hits)
    if cues.first_speaker_role is Role.AGENT:
        scores[first] += cues.first_speaker_weight
    elif cues.first_speaker_role is Role.CALLER:
        scores[first] -= cues.first_speaker_weight
    if len(speakers) == 1:
        # One voice only (a voicemail, a one-sided recording): its role rests on its cues alone.
        (only,) = speakers
        role = Role.AGENT if scores[only] > 0 else Role.CALLER if scores[only] < 0 else Role.UNKNOWN
        return RoleAssignment({only: role}, 0.5, True, scores)
    ranked = sorted(speakers, key=lambda s: scores[s], reverse=True)
    agent = ranked[0]
    margin = scores[ranked[0]] - scores[ranked[1]]
    # Margin → confidence: a tie is a coin flip (0.5); each net cue adds evidence, saturating.
    confidence = round((1.0 - 0.5 * 0.5 ** max(margin, 0.0)) * max(0.0, min(1.0, diarization_quality)), 3)
    if phrase_hits == 0:
        # Who spoke first is a habit, not evidence: without a single phrase cue the roles are a
        # guess, and a guess is flagged whatever the first-speaker weight.
        confidence = min(confidence, round(cues.min_confidence - 0.05, 3))
    roles = {s: (Role.AGENT if s == agent else Role.CALLER) for s in speakers[:2]}
    for extra in ranked[2:]:
        roles[extra] = Role.UNKNOWN  # a third voice (transfer, hold message) is not guessed
    low = confidence < cues.min_confidence
    return RoleAssignment(roles=roles, confidence=confidence, low_confidence=low, evidence=scores)
