"""Encoding errors stay in the exception tree: fastavro's TypeError/ValueError would be retried
as a bug; an event that breaks its own contract is dead-lettered with the reason instead."""

from __future__ import annotations

import pytest

from callpipe.avro import LocalSchemaRegistry
from callpipe.avro.serde import AvroSerde
from callpipe.errors import InvalidOutputError
from callpipe.models import TranscriptReady


@pytest.fixture
def serde() -> AvroSerde[TranscriptReady]:
    return AvroSerde(TranscriptReady, LocalSchemaRegistry.from_directory(), "callpipe.transcripts-value")


def test_a_record_missing_a_required_field_is_invalid_output(serde: AvroSerde[TranscriptReady]) -> None:
    with pytest.raises(InvalidOutputError, match="TranscriptReady breaks its Avro contract"):
        serde.serialize_dict({"call_id": "CA1"})


def test_a_field_of_the_wrong_type_is_invalid_output(serde: AvroSerde[TranscriptReady]) -> None:
    record: dict[str, object] = {field["name"]: None for field in serde.schema["fields"]}
    record["call_id"] = 42
    with pytest.raises(InvalidOutputError):
        serde.serialize_dict(record)
