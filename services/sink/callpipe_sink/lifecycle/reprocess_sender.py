"""Serialize and publish a reprocessed call to the topic of the stage that runs again."""

from __future__ import annotations

from typing import Any, Protocol

from callpipe.avro import AvroSerde, SchemaRegistry
from callpipe.models import RecordingReady, TranscriptReady
from callpipe.settings import TopicSettings

__all__ = ["REPROCESS_HEADER", "KafkaSender"]

# Marks a record as a backfill, so operators can tell it from live traffic (kafka-console, DLQ).
REPROCESS_HEADER = "x-callpipe-reprocess"


class Producer(Protocol):
    async def send(self, topic: str, key: str | bytes | None, value: bytes, headers: Any = None) -> Any: ...


class KafkaSender:
    """A ``Sender`` for ``Reprocessor.run``: RecordingReady → recordings, TranscriptReady → transcripts."""

    def __init__(self, producer: Producer, registry: SchemaRegistry, topics: TopicSettings) -> None:
        self._producer = producer
        self._topics = topics
        self._recordings = AvroSerde(RecordingReady, registry, f"{topics.recordings}-value")
        self._transcripts = AvroSerde(TranscriptReady, registry, f"{topics.transcripts}-value")

    async def __call__(self, stage: str, call_id: str, event: RecordingReady | TranscriptReady) -> Any:
        headers = [(REPROCESS_HEADER, b"1")]
        if isinstance(event, RecordingReady):
            body = self._recordings.serialize(event)
            return await self._producer.send(self._topics.recordings, call_id, body, headers)
        body = self._transcripts.serialize(event)
        return await self._producer.send(self._topics.transcripts, call_id, body, headers)
