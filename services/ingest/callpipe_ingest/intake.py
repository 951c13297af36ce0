"""Intake of audio files (upload API and bulk import): sniff, hash, store, publish once.

Idempotent by content: the ledger id is the SHA-256 of the bytes, so the same recording uploaded
twice, or uploaded and later bulk-imported, is published once; the second attempt gets the first
event's ids back. Without a call id from the uploader the call id is derived from the hash too,
which keeps re-runs deterministic.
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from callpipe.errors import InvalidInputError
from callpipe.models import (
    CallMetadata,
    ChannelRole,
    Consent,
    Direction,
    RecordingReady,
    RecordingSource,
    Role,
)
from callpipe.store import RecordingStore
from callpipe_ingest.audio import SNIFF_BYTES, AudioInfo, sniff_audio
from callpipe_ingest.publisher import Publisher, PublishOutcome

__all__ = ["CONTENT_NAMESPACE", "RecordingMetadata", "ingest_bytes", "ingest_file", "sha256_file"]

CONTENT_NAMESPACE = "content"

CallId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}$")]


class RecordingMetadata(BaseModel):
    """Metadata an uploader (or a bulk-import sidecar) sends with a recording."""

    model_config = ConfigDict(extra="forbid")

    call_id: CallId | None = Field(default=None, description="Your call id; default derived from the hash.")
    channel_roles: list[ChannelRole] = Field(
        default_factory=list,
        description='Channel → party, e.g. [{"channel":0,"role":"caller"},{"channel":1,"role":"agent"}] '
        'or the shorthand ["caller","agent"]; empty = roles by diarization.',
    )
    agent_id: str | None = Field(default=None, max_length=200)
    queue: str | None = Field(default=None, max_length=200)
    started_at: datetime | None = Field(default=None, description="ISO 8601; UTC when no offset.")
    from_number: str | None = Field(default=None, max_length=64)
    to_number: str | None = Field(default=None, max_length=64)
    direction: Direction = Direction.UNKNOWN
    consent: Consent = Consent.UNKNOWN
    attributes: dict[str, str] = Field(default_factory=dict, max_length=100)

    @field_validator("channel_roles", mode="before")
    @classmethod
    def _shorthand(cls, value: object) -> object:
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return [{"channel": i, "role": Role(v)} for i, v in enumerate(value)]
        return value

    @field_validator("started_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value

    def call_metadata(self) -> CallMetadata:
        return CallMetadata(
            from_number=self.from_number,
            to_number=self.to_number,
            direction=self.direction,
            agent_id=self.agent_id,
            queue=self.queue,
            started_at=self.started_at,
            consent=self.consent,
            attributes=self.attributes,
        )


def _event(
    sha: str, info: AudioInfo, uri: str, meta: RecordingMetadata, source: RecordingSource
) -> RecordingReady:
    channels = info.channels or 1
    for role in meta.channel_roles:
        if role.channel >= channels:
            raise InvalidInputError(
                f"channel_roles names channel {role.channel}, but the audio has {channels} channel(s)"
            )
    return RecordingReady(
        call_id=meta.call_id or f"sha256-{sha[:32]}",
        recording_id=f"sha256:{sha}",
        source=source,
        audio_uri=uri,
        content_type=info.content_type,
        audio_sha256=sha,
        duration_s=info.duration_s,
        channel_count=channels,
        channel_roles=meta.channel_roles,
        metadata=meta.call_metadata(),
        received_at=datetime.now(UTC),
    )


def _key(sha: str, info: AudioInfo) -> str:
    return f"audio/{sha[:2]}/{sha}{info.extension}"


async def ingest_bytes(
    publisher: Publisher,
    store: RecordingStore,
    data: bytes,
    meta: RecordingMetadata,
    source: RecordingSource,
) -> PublishOutcome:
    """Store and publish ``data``; raises UnsupportedAudioError (415) or InvalidInputError (422)."""
    info = sniff_audio(data[:SNIFF_BYTES], len(data))
    sha = hashlib.sha256(data).hexdigest()
    existing = await publisher.ledger.get(CONTENT_NAMESPACE, sha)
    if existing is not None:
        return PublishOutcome(existing, published=False)
    uri = store.uri_for(_key(sha, info))
    event = _event(sha, info, uri, meta, source)  # validate before writing anything
    await store.put(_key(sha, info), data, content_type=info.content_type)
    return await publisher.publish_once(CONTENT_NAMESPACE, sha, event)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _read_head(path: Path) -> tuple[bytes, int]:
    with path.open("rb") as f:
        return f.read(SNIFF_BYTES), path.stat().st_size


async def ingest_file(
    publisher: Publisher,
    store: RecordingStore,
    path: Path,
    meta: RecordingMetadata,
    source: RecordingSource,
) -> PublishOutcome:
    """Like ingest_bytes for a file on disk, streamed (never read whole into memory)."""
    head, size = await asyncio.to_thread(_read_head, path)
    info = sniff_audio(head, size)
    sha = await asyncio.to_thread(sha256_file, path)
    existing = await publisher.ledger.get(CONTENT_NAMESPACE, sha)
    if existing is not None:
        return PublishOutcome(existing, published=False)
    event = _event(sha, info, store.uri_for(_key(sha, info)), meta, source)
    await store.put_file(_key(sha, info), path, content_type=info.content_type)
    return await publisher.publish_once(CONTENT_NAMESPACE, sha, event)
