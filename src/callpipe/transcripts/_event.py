"""ParsedTranscript → ``TranscriptReady``: roles decided, ids derived from the content hash.

Roles, most certain first:
1. stated in the file ("Agent:" lines, roles in callpipe JSON) → kept, whatever else is given;
2. ``speaker_roles`` given by the caller of this function ({"spk_0": "agent"}) → applied (an error
   when it names none of the file's speakers: a typo must not silently guess);
3. per-channel transcripts → ``channel_roles``, default caller on channel 0 and agent on 1 (Twilio's
   dual-channel order, the same default as audio uploads);
4. diarized speakers without a mapping → the first to speak is the agent (a support call opens with
   the agent's greeting), flagged ``roles_low_confidence`` as the transcriber flags mono audio.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from callpipe.models import (
    CallMetadata,
    ChannelRole,
    RecordingSource,
    Role,
    TranscriptReady,
    TranscriptStatus,
    Utterance,
)
from callpipe.transcripts._common import ParsedTranscript, TranscriptFormatError

__all__ = ["DEFAULT_CHANNEL_ROLES", "GUESSED_ROLE_CONFIDENCE", "transcript_event", "transcript_sha256"]

DEFAULT_CHANNEL_ROLES = (ChannelRole(channel=0, role=Role.CALLER), ChannelRole(channel=1, role=Role.AGENT))
GUESSED_ROLE_CONFIDENCE = 0.5


def transcript_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _with_roles(
    parsed: ParsedTranscript,
    channel_roles: list[ChannelRole] | None,
    speaker_roles: dict[str, Role] | None,
) -> tuple[list[Utterance], bool, float]:
    utterances = parsed.utterances
    if parsed.roles_given:
        return utterances, False, 1.0  # the file said who is who; a speaker map is for the others
    if speaker_roles:
        unknown = sorted({u.speaker for u in utterances} - set(speaker_roles))
        speakers = sorted({u.speaker for u in utterances})
        if len(unknown) == len(speakers):
            raise TranscriptFormatError(f"speaker_roles names none of the transcript's speakers {speakers}")
        mapped = [
            u.model_copy(update={"role": speaker_roles.get(u.speaker, Role.UNKNOWN)}) for u in utterances
        ]
        return mapped, False, 1.0
    if utterances and all(u.channel is not None for u in utterances):
        by_channel = {c.channel: c.role for c in (channel_roles or DEFAULT_CHANNEL_ROLES)}
        mapped = [
            u.model_copy(update={"role": by_channel.get(u.channel or 0, Role.UNKNOWN)}) for u in utterances
        ]
        return mapped, False, 1.0
    first = utterances[0].speaker if utterances else ""
    guessed = [
        u.model_copy(update={"role": Role.AGENT if u.speaker == first else Role.CALLER}) for u in utterances
    ]
    return guessed, True, GUESSED_ROLE_CONFIDENCE


def transcript_event(
    parsed: ParsedTranscript,
    content_sha256: str,
    *,
    call_id: str | None = None,
    metadata: CallMetadata | None = None,
    source: RecordingSource = RecordingSource.IMPORT,
    channel_roles: list[ChannelRole] | None = None,
    speaker_roles: dict[str, Role] | None = None,
    received_at: datetime | None = None,
) -> TranscriptReady:
    """The event the transcriber would have published, without speech-to-text.

    ``recording_id`` is ``sha256:<hash of the transcript bytes>`` and, without a ``call_id``, the
    call id is derived from it too, so the same file imported twice is the same call.
    """
    utterances, low_confidence, confidence = _with_roles(parsed, channel_roles, speaker_roles)
    return TranscriptReady(
        call_id=call_id or f"sha256-{content_sha256[:32]}",
        recording_id=f"sha256:{content_sha256}",
        source=source,
        status=TranscriptStatus.OK,
        audio_uri="",  # no audio: the transcript came in as text
        audio_duration_s=round(parsed.audio_duration_s, 3),
        channel_count=parsed.channel_count,
        language=parsed.language,
        engine=parsed.engine,
        model=parsed.model,
        utterances=utterances,
        roles_low_confidence=low_confidence,
        role_confidence=confidence,
        metadata=metadata or CallMetadata(),
        received_at=received_at or datetime.now(UTC),
    )
