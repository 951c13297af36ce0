"""With a real Confluent-compatible registry, confluent-kafka's own Avro serde and ours agree."""

from __future__ import annotations

import uuid

from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from callpipe.avro import AvroSerde, ConfluentSchemaRegistry, schema_fingerprint
from callpipe.avro.contracts import render
from callpipe.models import CallAnalyzed, TranscriptReady
from callpipe_tools.examples import example_analysis, example_transcript


def test_confluent_deserializer_reads_what_callpipe_writes(schema_registry_url: str) -> None:
    topic = f"interop-{uuid.uuid4().hex[:8]}"
    with (
        ConfluentSchemaRegistry(schema_registry_url) as registry,
        SchemaRegistryClient({"url": schema_registry_url}) as client,
    ):
        ours = AvroSerde(CallAnalyzed, registry, f"{topic}-value")
        data = ours.serialize(example_analysis())
        theirs = AvroDeserializer(client)
        record = theirs(data, SerializationContext(topic, MessageField.VALUE))
    assert CallAnalyzed.model_validate(record) == example_analysis()


def test_callpipe_reads_what_confluent_serializer_writes(schema_registry_url: str) -> None:
    topic = f"interop-{uuid.uuid4().hex[:8]}"
    with (
        ConfluentSchemaRegistry(schema_registry_url) as registry,
        SchemaRegistryClient({"url": schema_registry_url}) as client,
    ):
        ours = AvroSerde(TranscriptReady, registry, f"{topic}-value")
        theirs = AvroSerializer(
            client,
            render(ours.schema),
            lambda event, _ctx: event.model_dump(mode="python"),
            conf={"auto.register.schemas": True},
        )
        data = theirs(example_transcript(), SerializationContext(topic, MessageField.VALUE))
        assert data is not None and data[0] == 0
        assert ours.deserialize(data) == example_transcript()
        # The id in their frame resolves, through our adapter, to the same schema we write with.
        their_id = int.from_bytes(data[1:5], "big")
        assert schema_fingerprint(registry.schema_for(their_id)) == schema_fingerprint(ours.schema)
