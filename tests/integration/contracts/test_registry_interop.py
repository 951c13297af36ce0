"""With a real Confluent-compatible registry, confluent-kafka's own Avro serde and ours agree."""

from __future__ import annotations

import uuid

from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from callpipe.avro import AvroSerde, ConfluentSchemaRegistry
from callpipe.avro.contracts import render
from callpipe.examples import example_analysis, example_transcript
from callpipe.models import CallAnalyzed, TranscriptReady


def test_confluent_deserializer_reads_what_callpipe_writes(schema_registry_url: str) -> None:
    topic = f"interop-{uuid.uuid4().hex[:8]}"
    ours = AvroSerde(CallAnalyzed, ConfluentSchemaRegistry(schema_registry_url), f"{topic}-value")
    data = ours.serialize(example_analysis())

    client = SchemaRegistryClient({"url": schema_registry_url})
    theirs = AvroDeserializer(client)
    record = theirs(data, SerializationContext(topic, MessageField.VALUE))
    assert CallAnalyzed.model_validate(record) == example_analysis()


def test_callpipe_reads_what_confluent_serializer_writes(schema_registry_url: str) -> None:
    topic = f"interop-{uuid.uuid4().hex[:8]}"
    client = SchemaRegistryClient({"url": schema_registry_url})
    ours = AvroSerde(TranscriptReady, ConfluentSchemaRegistry(schema_registry_url), f"{topic}-value")
    theirs = AvroSerializer(
        client,
        render(ours.schema),
        lambda event, _ctx: event.model_dump(mode="python"),
        conf={"auto.register.schemas": True},
    )
    data = theirs(example_transcript(), SerializationContext(topic, MessageField.VALUE))
    assert data is not None and data[0] == 0
    assert ours.deserialize(data) == example_transcript()
    # Both sides agree on the id the registry gave the schema.
    assert int.from_bytes(data[1:5], "big") == ours.writer_id
