"""The sink's light events consumer: recordings, transcripts, call-events and dead letters →
``call_events`` rows (the adapter of this package: the only module importing confluent-kafka).

Its own consumer group (``<prefix>-sink-events``), so it never slows the analyses batch stage.
At-least-once like the runner: offsets are committed only after ClickHouse acknowledged the
rows, and a redelivered record collapses on the ReplacingMergeTree key. While ClickHouse is
down it retries the same rows with backoff and consumes nothing more. It never produces, so it
needs no dead-letter topic: a record that says nothing about a call is skipped.

Given the schema registry, it decodes the ``RecordingReady`` bodies of the recordings topic (small,
one per call) for where the audio is and the parties' hashed numbers: what an erasure needs to
find a call that never reached ``calls``. A body that can never decode (a broken contract) keeps its
``received`` event without them; while the registry is unreachable the batch waits and retries with
backoff, uncommitted, like a ClickHouse outage.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import pyarrow as pa
from confluent_kafka import Consumer, Message

from callpipe.avro import AvroSerde, SchemaRegistry
from callpipe.errors import CallpipeError, PermanentError
from callpipe.kafka import ConsumerFactory, consumer_config
from callpipe.models import RecordingReady
from callpipe.settings import KafkaSettings, RunnerSettings
from callpipe_sink.lifecycle.erasure import Tombstones
from callpipe_sink.lifecycle.event_rows import (
    COLUMNS,
    CallEventRow,
    EventTopics,
    RecordingDecoder,
    RecordingFacts,
    event_row,
    party_hashes,
)
from callpipe_sink.warehouse import Warehouse

__all__ = ["DEAD_LETTER_STAGES", "EVENTS_STAGE", "CallEventsConsumer", "recording_decoder", "rows_table"]

log = logging.getLogger(__name__)
T = TypeVar("T")

EVENTS_STAGE = "sink-events"
# Stages whose dead letters describe a call (each keeps the call id as the record key).
DEAD_LETTER_STAGES = ("transcriber", "analyzer", "sink")

_SCHEMA = pa.schema(
    [
        ("call_id", pa.string()),
        ("event", pa.string()),
        ("stage", pa.string()),
        ("at", pa.timestamp("ms", tz="UTC")),
        ("error_class", pa.string()),
        ("reason", pa.string()),
        ("attempts", pa.uint32()),
        ("source_topic", pa.string()),
        ("audio_uri", pa.string()),
        ("recording_id", pa.string()),
        ("source", pa.string()),
        ("party_hashes", pa.list_(pa.string())),
    ]
)


def rows_table(rows: Sequence[CallEventRow]) -> pa.Table:
    tuples = [r.as_tuple() for r in rows]
    arrays = [pa.array([t[i] for t in tuples], type=_SCHEMA.field(i).type) for i in range(len(COLUMNS))]
    return pa.Table.from_arrays(arrays, schema=_SCHEMA)


def recording_decoder(registry: SchemaRegistry, recordings_topic: str) -> RecordingDecoder:
    """Reads a recordings-topic body into the facts an erasure needs (None when it does not decode)."""
    serde = AvroSerde(RecordingReady, registry, f"{recordings_topic}-value")

    def decode(value: bytes) -> RecordingFacts | None:
        try:
            record = serde.deserialize_dict(value)
        except PermanentError as exc:
            # Retrying cannot help; the event still records that the call was received.
            log.warning("recording body not decoded: its audio is not noted", extra={"reason": str(exc)})
            return None
        metadata = record.get("metadata") or {}
        return RecordingFacts(
            audio_uri=str(record.get("audio_uri") or ""),
            recording_id=str(record.get("recording_id") or ""),
            source=str(record.get("source") or ""),
            party_hashes=party_hashes(metadata.get("from_number"), metadata.get("to_number")),
        )

    return decode


class CallEventsConsumer:
    def __init__(
        self,
        warehouse: Warehouse,
        kafka: KafkaSettings,
        topics: EventTopics,
        runner: RunnerSettings | None = None,
        *,
        dead_letter_stages: Sequence[str] = DEAD_LETTER_STAGES,
        batch_size: int = 1000,
        consumer_factory: ConsumerFactory = Consumer,
        registry: SchemaRegistry | None = None,
    ) -> None:
        self._wh = warehouse
        # Without a registry the received events lack the audio and the parties (tests, probes).
        self._recording_facts = recording_decoder(registry, topics.recordings) if registry else None
        self._tombstones = Tombstones(warehouse)
        self._topics = topics
        self._subscribed = topics.all(dead_letter_stages)
        self._config = consumer_config(kafka, EVENTS_STAGE, runner=runner)
        self._batch_size = batch_size
        self._consumer_factory = consumer_factory
        self._stopping = asyncio.Event()
        self.rows_written = 0

    @property
    def subscribed(self) -> list[str]:
        return list(self._subscribed)

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        consumer = self._consumer_factory(self._config)
        consumer.subscribe(self._subscribed)
        try:
            while not self._stopping.is_set():
                messages = await asyncio.to_thread(consumer.consume, self._batch_size, 0.2)
                rows = await self._rows_when_decodable(messages)
                if rows:
                    await self._store(rows)
                if messages:
                    await asyncio.to_thread(self._commit, consumer)
        finally:
            await asyncio.to_thread(consumer.close)

    def _rows(self, messages: list[Message]) -> list[CallEventRow]:
        rows: list[CallEventRow] = []
        for message in messages:
            if message.error() is not None:
                continue
            topic = message.topic() or ""
            _, stamp = message.timestamp()
            row = event_row(
                self._topics,
                topic,
                message.key(),
                message.value(),
                message.headers(),
                stamp,
                self._recording_facts,
            )
            if row is not None:
                rows.append(row)
        return rows

    def _without_erased(self, rows: list[CallEventRow]) -> list[CallEventRow]:
        erased = self._tombstones.erased_among([r.call_id for r in rows])
        return [r for r in rows if r.call_id not in erased] if erased else rows

    async def _rows_when_decodable(self, messages: list[Message]) -> list[CallEventRow]:
        """``_rows``, retried with backoff while a dependency (the schema registry) is down."""

        async def decode() -> list[CallEventRow]:
            return self._rows(messages)

        return await self._until_done("call events not decoded", decode)

    async def _store(self, rows: list[CallEventRow]) -> None:
        def insert() -> None:
            kept = self._without_erased(rows)
            if kept:
                self._wh.insert_arrow("call_events", rows_table(kept))
            self.rows_written += len(kept)

        await self._until_done("call_events insert failed", lambda: asyncio.to_thread(insert))

    async def _until_done(self, failure: str, step: Callable[[], Awaitable[T]]) -> T:
        """``step``'s result, retried with doubling backoff (0.5 s to 30 s) while it raises a
        ``CallpipeError``. Nothing is committed until it succeeds: an outage only delays the status.
        A stop during the wait re-raises the last error."""
        delay = 0.5
        while True:
            try:
                return await step()
            except CallpipeError as exc:
                log.warning(f"{failure}, retrying", extra={"error": str(exc), "retry_in_s": delay})
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), delay)
                if self._stopping.is_set():
                    raise
                delay = min(delay * 2, 30.0)

    @staticmethod
    def _commit(consumer: Consumer) -> None:
        with contextlib.suppress(Exception):  # nothing assigned yet / rebalance: redelivery is harmless
            consumer.commit(asynchronous=False)
