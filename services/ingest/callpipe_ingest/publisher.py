"""Publishing with the guarantees ingest promises: acknowledged by the broker, at most once per id.

Every path into the recordings topic (Twilio callback, upload API, bulk import) goes through
:meth:`Publisher.publish_once`: look up the ledger, publish and wait for the broker's ack, then
write the ledger marker. The caller answers its client only after this returns.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from typing import Any, Protocol

from callpipe.avro import AvroSerde
from callpipe.errors import DependencyUnavailableError
from callpipe.models import RecordingReady
from callpipe.settings import TopicSettings
from callpipe_ingest.ledger import Ledger, LedgerEntry

__all__ = ["EventSender", "PublishOutcome", "Publisher", "acknowledged_send", "mark_published"]

_log = logging.getLogger(__name__)


class _Delivered(Protocol):
    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...


Headers = list[tuple[str, str | bytes | None]]


class EventSender(Protocol):
    """What ingest needs from a producer (``callpipe.kafka.EventProducer`` is one)."""

    async def send(
        self, topic: str, key: str, value: bytes, headers: Headers | None = None
    ) -> _Delivered: ...


class PublishOutcome:
    """Result of publish_once: the ledger entry and whether this call published it."""

    __slots__ = ("entry", "published")

    def __init__(self, entry: LedgerEntry, published: bool) -> None:
        self.entry = entry
        self.published = published


class _PublishedEvent(Protocol):
    @property
    def call_id(self) -> str: ...
    @property
    def recording_id(self) -> str: ...
    @property
    def audio_uri(self) -> str: ...


async def acknowledged_send(
    producer: EventSender, topic: str, key: str, value: bytes, headers: Headers, timeout_s: float
) -> _Delivered:
    """Send and wait for the broker's acknowledgement; DependencyUnavailableError after
    ``timeout_s`` (the client is then told to retry, and nothing was marked)."""
    try:
        return await asyncio.wait_for(producer.send(topic, key, value, headers), timeout_s)
    except TimeoutError:
        raise DependencyUnavailableError(
            f"broker did not acknowledge within {timeout_s:.0f}s (is Kafka down?)"
        ) from None


async def mark_published(
    ledger: Ledger, namespace: str, ident: str, event: _PublishedEvent, delivered: _Delivered
) -> PublishOutcome:
    """Write the ledger marker of an event the broker has acknowledged, and report it published."""
    entry = LedgerEntry(
        call_id=event.call_id,
        recording_id=event.recording_id,
        audio_uri=event.audio_uri,
        topic=delivered.topic,
        partition=delivered.partition,
        offset=delivered.offset,
        published_at=datetime.now(UTC).isoformat(),
    )
    try:
        await ledger.put(namespace, ident, entry)
    except Exception:  # noqa: BLE001 - the event is safe on the broker; a retry only duplicates
        # The client must hear "accepted": answering an error would make it retry and publish
        # again. Downstream is idempotent on recording_id, so a later duplicate is harmless.
        _log.exception("ledger marker not written after publish", extra={"ident": ident})
    return PublishOutcome(entry, published=True)


class Publisher:
    def __init__(
        self,
        producer: EventSender,
        serde: AvroSerde[RecordingReady],
        topics: TopicSettings,
        ledger: Ledger,
        *,
        timeout_s: float = 10.0,
    ) -> None:
        self._producer = producer
        self._serde = serde
        self._topics = topics
        self.ledger = ledger
        self._timeout_s = timeout_s

    async def _send(self, topic: str, key: str, value: bytes, headers: Headers) -> _Delivered:
        return await acknowledged_send(self._producer, topic, key, value, headers, self._timeout_s)

    async def publish_once(self, namespace: str, ident: str, event: RecordingReady) -> PublishOutcome:
        """Publish ``event`` unless ``namespace/ident`` was published before.

        Raises DependencyUnavailableError when the broker does not acknowledge in time; nothing is
        marked then, so the client's retry publishes it.
        """
        async with self.ledger.hold(namespace, ident):
            existing = await self.ledger.get(namespace, ident)
            if existing is not None:
                return PublishOutcome(existing, published=False)
            delivered = await self._send(
                self._topics.recordings,
                event.call_id,
                self._serde.serialize(event),
                [("callpipe-source", event.source.value.encode())],
            )
            return await mark_published(self.ledger, namespace, ident, event, delivered)

    async def publish_fact(self, key: str, fact: dict[str, Any]) -> _Delivered:
        """A JSON fact on the call-events topic (facts that are not recordings: consent declined)."""
        value = json.dumps(fact, sort_keys=True, default=str).encode()
        return await self._send(
            self._topics.call_events,
            key,
            value,
            [("content-type", b"application/json"), ("callpipe-fact", str(fact.get("type", "")).encode())],
        )
