"""Intake of existing transcripts (``POST /transcripts``, ``callpipe import --transcripts``).

A transcript skips speech-to-text: it is parsed (callpipe.transcripts: callpipe JSON, Amazon
Transcribe, Deepgram, speaker-labelled text), refused with the reason when unreadable, and
published as ``TranscriptReady`` on the transcripts topic, where the analyzer takes it as if the
transcriber had produced it. Idempotent by content like audio: the ledger id is the SHA-256 of
the transcript's bytes (namespace ``transcript``), so the same file sent twice, or sent and later
imported, is published once and the second attempt gets the first event's ids back.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from callpipe.avro import AvroSerde, SchemaRegistry
from callpipe.models import RecordingSource, Role, TranscriptReady
from callpipe.settings import TopicSettings
from callpipe.transcripts import (
    MAX_TRANSCRIPT_BYTES,
    TranscriptFormat,
    TranscriptFormatError,
    read_transcript,
    transcript_event,
    transcript_sha256,
)
from callpipe_ingest.intake import RecordingMetadata
from callpipe_ingest.ledger import Ledger
from callpipe_ingest.publisher import EventSender, PublishOutcome, acknowledged_send, mark_published

__all__ = [
    "TRANSCRIPT_NAMESPACE",
    "TRANSCRIPT_SUFFIXES",
    "TranscriptPublisher",
    "ingest_transcript",
    "ingest_transcript_file",
]

TRANSCRIPT_NAMESPACE = "transcript"


class TranscriptPublisher:
    """Publishes ``TranscriptReady`` once per content hash, acknowledged by the broker first."""

    def __init__(
        self,
        producer: EventSender,
        registry: SchemaRegistry,
        topics: TopicSettings,
        ledger: Ledger,
        *,
        timeout_s: float = 10.0,
    ) -> None:
        self._producer = producer
        self._serde = AvroSerde(TranscriptReady, registry, f"{topics.transcripts}-value")
        self._topic = topics.transcripts
        self.ledger = ledger
        self._timeout_s = timeout_s

    async def publish_once(self, ident: str, event: TranscriptReady) -> PublishOutcome:
        async with self.ledger.hold(TRANSCRIPT_NAMESPACE, ident):
            existing = await self.ledger.get(TRANSCRIPT_NAMESPACE, ident)
            if existing is not None:
                return PublishOutcome(existing, published=False)
            headers: list[tuple[str, str | bytes | None]] = [
                ("callpipe-source", event.source.value.encode()),
                ("callpipe-input", b"transcript"),
            ]
            delivered = await acknowledged_send(
                self._producer,
                self._topic,
                event.call_id,
                self._serde.serialize(event),
                headers,
                self._timeout_s,
            )
            # As for audio: the marker only after the ack, and a client that hears "accepted".
            return await mark_published(self.ledger, TRANSCRIPT_NAMESPACE, ident, event, delivered)


async def ingest_transcript(
    publisher: TranscriptPublisher,
    data: bytes,
    meta: RecordingMetadata,
    source: RecordingSource,
    *,
    fmt: TranscriptFormat | None = None,
    speaker_roles: dict[str, Role] | None = None,
) -> PublishOutcome:
    """Parse, then publish once; TranscriptFormatError (→ 422) before anything is published."""
    sha = transcript_sha256(data)
    existing = await publisher.ledger.get(TRANSCRIPT_NAMESPACE, sha)
    if existing is not None:
        return PublishOutcome(existing, published=False)
    event = transcript_event(
        read_transcript(data, fmt),
        sha,
        call_id=meta.call_id,
        metadata=meta.call_metadata(),
        source=source,
        channel_roles=meta.channel_roles or None,
        speaker_roles=speaker_roles,
    )
    return await publisher.publish_once(sha, event)


async def ingest_transcript_file(
    publisher: TranscriptPublisher, path: Path, meta: RecordingMetadata, source: RecordingSource
) -> PublishOutcome:
    size = (await asyncio.to_thread(path.stat)).st_size
    if size > MAX_TRANSCRIPT_BYTES:
        raise TranscriptFormatError(f"transcript larger than {MAX_TRANSCRIPT_BYTES} bytes")
    data = await asyncio.to_thread(path.read_bytes)
    return await ingest_transcript(publisher, data, meta, source)


# Files `callpipe import --transcripts DIR` picks up in a folder (a named file is always tried).
TRANSCRIPT_SUFFIXES = frozenset({".json", ".txt"})
