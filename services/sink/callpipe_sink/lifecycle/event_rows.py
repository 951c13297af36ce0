"""Kafka record → one ``call_events`` row, without decoding Avro bodies.

Every stage keys its output by call id (ingest, transcriber, analyzer producers) and a dead
letter keeps the original key plus ``x-callpipe-*`` headers (``callpipe.runner._dead_letter``),
so the key, the topic, the record timestamp and the headers say what happened. Only the JSON
facts of ``callpipe.call-events`` are parsed (their ``type``, ``call_id`` and numbers), and a
``RecordingReady`` is read through a decoder the consumer passes in (``RecordingFacts``): the
``received`` event keeps where the audio is and the hashed numbers, so an erasure finds and
removes a call that never reached ``calls`` (dead-lettered, in flight, consent declined).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = [
    "COLUMNS",
    "MAX_REASON_CHARS",
    "CallEventRow",
    "EventTopics",
    "RecordingDecoder",
    "RecordingFacts",
    "event_row",
    "party_hashes",
    "phone_hash",
]

# A reason is shown on the page and stored per call; the runner already caps it at 4 KiB.
MAX_REASON_CHARS = 2000

# Facts of the call-events topic that become a status event (their type is the event name).
_FACT_EVENTS = frozenset({"consent_declined"})


def phone_hash(number: str) -> str:
    """How call_events names a party's number: SHA-256 of the number as stored (E.164 when known),
    so ``erase --phone`` matches it exactly as it matches ``calls.from_number``."""
    return hashlib.sha256(number.encode()).hexdigest()


def party_hashes(*numbers: object) -> tuple[str, ...]:
    return tuple(sorted({phone_hash(n) for n in numbers if isinstance(n, str) and n}))


@dataclass(frozen=True, slots=True)
class RecordingFacts:
    """What erasure needs of a ``RecordingReady``: where its audio is, and the parties (hashed)."""

    audio_uri: str
    recording_id: str
    source: str
    party_hashes: tuple[str, ...] = ()


# Decodes a recordings-topic body; None when it does not decode (the event is kept without facts).
RecordingDecoder = Callable[[bytes], RecordingFacts | None]


@dataclass(frozen=True, slots=True)
class CallEventRow:
    call_id: str
    event: str
    stage: str
    at: datetime
    error_class: str = ""
    reason: str = ""
    attempts: int = 0
    source_topic: str = ""
    audio_uri: str = ""
    recording_id: str = ""
    source: str = ""
    party_hashes: tuple[str, ...] = ()

    def as_tuple(self) -> tuple[object, ...]:
        return (
            self.call_id,
            self.event,
            self.stage,
            self.at,
            self.error_class,
            self.reason,
            self.attempts,
            self.source_topic,
            self.audio_uri,
            self.recording_id,
            self.source,
            list(self.party_hashes),
        )


COLUMNS = (
    "call_id",
    "event",
    "stage",
    "at",
    "error_class",
    "reason",
    "attempts",
    "source_topic",
    "audio_uri",
    "recording_id",
    "source",
    "party_hashes",
)


@dataclass(frozen=True)
class EventTopics:
    """The topics the events consumer reads, and what each one means."""

    recordings: str
    transcripts: str
    call_events: str
    dead_letter_prefix: str

    def all(self, dead_letter_stages: Sequence[str]) -> list[str]:
        dlqs = [f"{self.dead_letter_prefix}.{stage}" for stage in dead_letter_stages]
        return [self.recordings, self.transcripts, self.call_events, *dlqs]


# As confluent-kafka hands them over: a list of pairs (or a dict), values bytes or str.
Headers = Sequence[tuple[str, str | bytes | None]] | Mapping[str, str | bytes | None] | None


def _header(headers: Headers, name: str) -> str:
    pairs = headers.items() if isinstance(headers, Mapping) else (headers or ())
    for key, value in pairs:
        if key == name and value is not None:
            return value if isinstance(value, str) else value.decode("utf-8", errors="replace")
    return ""


def _timestamp(ms: int | None) -> datetime:
    if ms is None or ms <= 0:
        return datetime.now(UTC)
    return datetime.fromtimestamp(ms / 1000, UTC)


def event_row(
    topics: EventTopics,
    topic: str,
    key: bytes | None,
    value: bytes | None,
    headers: Headers,
    timestamp_ms: int | None,
    recording_facts: RecordingDecoder | None = None,
) -> CallEventRow | None:
    """The status event a record stands for; None when it says nothing about a call."""
    call_id = (key or b"").decode("utf-8", errors="replace").strip()
    at = _timestamp(timestamp_ms)
    if topic.startswith(f"{topics.dead_letter_prefix}."):
        stage = _header(headers, "x-callpipe-stage") or topic.removeprefix(f"{topics.dead_letter_prefix}.")
        attempts = _header(headers, "x-callpipe-attempts")
        dead_at = _header(headers, "x-callpipe-dead-lettered-at-ms")
        if not call_id:
            return None
        return CallEventRow(
            call_id=call_id,
            event="dead_lettered",
            stage=stage,
            at=_timestamp(int(dead_at)) if dead_at.isdigit() else at,
            error_class=_header(headers, "x-callpipe-error-class"),
            reason=_header(headers, "x-callpipe-error-message")[:MAX_REASON_CHARS],
            attempts=int(attempts) if attempts.isdigit() else 0,
            source_topic=_header(headers, "x-callpipe-source-topic"),
        )
    if topic == topics.call_events:
        return _fact_row(value, call_id, at, topic)
    if not call_id:
        return None
    if topic == topics.recordings:
        facts = recording_facts(value) if recording_facts is not None and value else None
        if facts is None:
            return CallEventRow(call_id, "received", "ingest", at, source_topic=topic)
        return CallEventRow(
            call_id,
            "received",
            "ingest",
            at,
            source_topic=topic,
            audio_uri=facts.audio_uri,
            recording_id=facts.recording_id,
            source=facts.source,
            party_hashes=facts.party_hashes,
        )
    if topic == topics.transcripts:
        return CallEventRow(call_id, "transcribed", "transcriber", at, source_topic=topic)
    return None


def _fact_row(value: bytes | None, key_call_id: str, at: datetime, topic: str) -> CallEventRow | None:
    try:
        fact = json.loads(value or b"")
    except ValueError:
        return None
    if not isinstance(fact, dict) or fact.get("type") not in _FACT_EVENTS:
        return None
    call_id = str(fact.get("call_id") or key_call_id)
    if not call_id:
        return None
    stamp = fact.get("at")
    if isinstance(stamp, str):
        with contextlib.suppress(ValueError):  # a malformed stamp: keep the record's timestamp
            at = datetime.fromisoformat(stamp).astimezone(UTC)
    reason = (
        f"caller declined recording (via {fact['via']})" if fact.get("via") else "caller declined recording"
    )
    parties = party_hashes(fact.get("from_number"), fact.get("to_number"))
    return CallEventRow(
        call_id, str(fact["type"]), "ingest", at, reason=reason, source_topic=topic, party_hashes=parties
    )
