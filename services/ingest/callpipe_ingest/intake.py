"""Intake of audio files (upload API and bulk import): sniff, hash, store, publish once.

Idempotent by content: the ledger id is the SHA-256 of the bytes, so the same recording uploaded
twice, or uploaded and later bulk-imported, is published once; the second attempt gets the first
event's ids back. Without a call id from the uploader the call id is derived from the hash too,
which keeps re-runs deterministic. A *different* recording under a call id that already has one
is refused (CallConflictError, 409) unless the caller asks to replace it. Before anything is
stored the audio is decoded once (audio_check): garbage behind a valid header never gets a 2xx.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from callpipe import limits
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
from callpipe_ingest.audio_check import check_audio
from callpipe_ingest.publisher import Publisher, PublishOutcome

__all__ = [
    "CALL_NAMESPACE",
    "CONTENT_NAMESPACE",
    "CallConflictError",
    "RecordingMetadata",
    "ingest_bytes",
    "ingest_file",
    "sha256_file",
]

CONTENT_NAMESPACE = "content"
CALL_NAMESPACE = "call"  # call id -> the recording published under it (409 on a different one)

CallId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}$")]
Label = Annotated[str, StringConstraints(pattern=limits.LABEL_PATTERN)]
Party = Annotated[str, StringConstraints(pattern=limits.PARTY_PATTERN)]
AttributeKey = Annotated[str, StringConstraints(pattern=limits.ATTRIBUTE_KEY_PATTERN)]
AttributeValue = Annotated[str, StringConstraints(max_length=limits.ATTRIBUTE_VALUE_MAX_CHARS)]


class RecordingMetadata(BaseModel):
    """Metadata an uploader (or a bulk-import sidecar) sends with a recording."""

    model_config = ConfigDict(extra="forbid")

    call_id: CallId | None = Field(default=None, description="Your call id; default derived from the hash.")
    channel_roles: list[ChannelRole] = Field(
        default_factory=list,
        description='Channel → party, e.g. [{"channel":0,"role":"caller"},{"channel":1,"role":"agent"}] '
        'or the shorthand ["caller","agent"]; empty = roles by diarization.',
    )
    agent_id: Label | None = None
    queue: Label | None = None
    started_at: datetime | None = Field(
        default=None, description="ISO 8601; UTC when no offset; 2000-01-01 to now + 1 day."
    )
    from_number: Party | None = None
    to_number: Party | None = None
    direction: Direction = Direction.UNKNOWN
    consent: Consent = Consent.UNKNOWN
    attributes: dict[AttributeKey, AttributeValue] = Field(
        default_factory=dict, max_length=limits.ATTRIBUTES_MAX_COUNT
    )

    @field_validator("attributes")
    @classmethod
    def _attributes_size(cls, value: dict[str, str]) -> dict[str, str]:
        size = sum(len(k.encode()) + len(v.encode()) for k, v in value.items())
        if size > limits.ATTRIBUTES_MAX_BYTES:
            raise ValueError(f"attributes take {size} bytes (at most {limits.ATTRIBUTES_MAX_BYTES})")
        return value

    @field_validator("channel_roles", mode="before")
    @classmethod
    def _shorthand(cls, value: object) -> object:
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return [{"channel": i, "role": Role(v)} for i, v in enumerate(value)]
        return value

    @field_validator("started_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        if not limits.date_in_window(value, datetime.now(UTC)):
            raise ValueError(f"started_at must lie between {limits.EARLIEST_CALL.date()} and now + 1 day")
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


class CallConflictError(InvalidInputError):
    """A different recording was already published under this call id (HTTP 409 unless replace)."""


def _event(
    sha: str, info: AudioInfo, uri: str, meta: RecordingMetadata, source: RecordingSource, duration_s: float
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
        duration_s=duration_s,
        channel_count=channels,
        channel_roles=meta.channel_roles,
        metadata=meta.call_metadata(),
        received_at=datetime.now(UTC),
    )


def _key(sha: str, info: AudioInfo) -> str:
    return f"audio/{sha[:2]}/{sha}{info.extension}"


@asynccontextmanager
async def _call_slot(
    publisher: Publisher, meta: RecordingMetadata, sha: str, replace: bool
) -> AsyncIterator[None]:
    """Refuse a different recording under a call id already published (unless ``replace``)."""
    if meta.call_id is None:  # derived from the hash: one call id per content, no conflict possible
        yield
        return
    ledger = publisher.ledger
    async with ledger.hold(CALL_NAMESPACE, meta.call_id):
        prior = await ledger.get(CALL_NAMESPACE, meta.call_id)
        if prior is not None and prior.recording_id != f"sha256:{sha}" and not replace:
            raise CallConflictError(
                f"call_id {meta.call_id!r} already holds a different recording ({prior.recording_id}); "
                "send replace=true to replace it"
            )
        yield


async def _publish(
    publisher: Publisher, meta: RecordingMetadata, sha: str, event: RecordingReady
) -> PublishOutcome:
    outcome = await publisher.publish_once(CONTENT_NAMESPACE, sha, event)
    if meta.call_id is not None:
        await publisher.ledger.put(CALL_NAMESPACE, meta.call_id, outcome.entry)
    return outcome


async def ingest_bytes(
    publisher: Publisher,
    store: RecordingStore,
    data: bytes,
    meta: RecordingMetadata,
    source: RecordingSource,
    *,
    replace: bool = False,
) -> PublishOutcome:
    """Store and publish ``data``; raises UnsupportedAudioError (415), BadAudioError or
    InvalidInputError (422), CallConflictError (409)."""
    info = sniff_audio(data[:SNIFF_BYTES], len(data))
    sha = hashlib.sha256(data).hexdigest()
    existing = await publisher.ledger.get(CONTENT_NAMESPACE, sha)
    if existing is not None:
        return PublishOutcome(existing, published=False)
    decoded = await asyncio.to_thread(check_audio, data, info.duration_s)
    async with _call_slot(publisher, meta, sha, replace):
        uri = store.uri_for(_key(sha, info))
        event = _event(sha, info, uri, meta, source, decoded.duration_s)  # validate before writing anything
        await store.put(_key(sha, info), data, content_type=info.content_type)
        return await _publish(publisher, meta, sha, event)


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
    *,
    max_bytes: int,
    replace: bool = False,
) -> PublishOutcome:
    """Like ingest_bytes for a file on disk, streamed (never read whole into memory).

    ``max_bytes`` is the upload API's limit (INGEST_MAX_UPLOAD_BYTES): a file the API would
    answer 413 is refused here too, before it is hashed or decoded.
    """
    head, size = await asyncio.to_thread(_read_head, path)
    if size > max_bytes:
        raise InvalidInputError(
            f"audio is {size} bytes, over the {max_bytes}-byte limit (INGEST_MAX_UPLOAD_BYTES)"
        )
    info = sniff_audio(head, size)
    sha = await asyncio.to_thread(sha256_file, path)
    existing = await publisher.ledger.get(CONTENT_NAMESPACE, sha)
    if existing is not None:
        return PublishOutcome(existing, published=False)
    decoded = await asyncio.to_thread(check_audio, path, info.duration_s)
    async with _call_slot(publisher, meta, sha, replace):
        event = _event(sha, info, store.uri_for(_key(sha, info)), meta, source, decoded.duration_s)
        await store.put_file(_key(sha, info), path, content_type=info.content_type)
        return await _publish(publisher, meta, sha, event)
