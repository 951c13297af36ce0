"""Framing checks, the call-id reader, container files and batch rounds (no ClickHouse)."""

from __future__ import annotations

import io

import pytest
from fastavro import reader

from callpipe.avro import AvroSerde, LocalSchemaRegistry
from callpipe.errors import PoisonMessageError
from callpipe.models import CallAnalyzed, RecordingReady
from callpipe_sink.avro_batch import (
    AnalysisPayload,
    SchemaResolver,
    container_file,
    decode_analysis,
    read_string_field,
)
from callpipe_sink.writer import split_rounds
from callpipe_tools.examples import example_analysis, example_recording


@pytest.fixture(scope="module")
def registry() -> LocalSchemaRegistry:
    return LocalSchemaRegistry.from_directory()


@pytest.fixture(scope="module")
def serde(registry: LocalSchemaRegistry) -> AvroSerde[CallAnalyzed]:
    return AvroSerde(CallAnalyzed, registry, "callpipe.analyses-value")


def test_decode_reads_call_id_and_keeps_the_body(serde: AvroSerde[CallAnalyzed]) -> None:
    data = serde.serialize(example_analysis("CA-42"))
    payload = decode_analysis(data)
    assert payload.call_id == "CA-42"
    assert payload.schema_id == serde.writer_id
    assert payload.body == data[5:]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "too short"),
        (b"\x01\x00\x00\x00\x01abc", "magic byte"),
        (b"\x00\x00\x00\x00\x01", "ends inside a varint"),
        (b"\x00\x00\x00\x00\x01\x80", "ends inside a varint"),
        (b"\x00\x00\x00\x00\x01\x14abc", "does not fit"),
        (b"\x00\x00\x00\x00\x01\x00rest", "call_id is empty"),
        (b"\x00\x00\x00\x00\x01\x04\xff\xfe", "not UTF-8"),
    ],
)
def test_undecodable_frames_are_poison(data: bytes, reason: str) -> None:
    with pytest.raises(PoisonMessageError, match=reason):
        decode_analysis(data)


def test_read_string_field_handles_multibyte_lengths() -> None:
    text = "é" * 100  # 200 bytes: a two-byte zigzag varint
    encoded = bytes([0x90, 0x03]) + text.encode()
    assert read_string_field(encoded) == (text, len(encoded))


def test_container_file_holds_exactly_the_bodies(serde: AvroSerde[CallAnalyzed]) -> None:
    events = [example_analysis(f"CA-{i}") for i in range(3)]
    bodies = [decode_analysis(serde.serialize(e)).body for e in events]
    records = list(reader(io.BytesIO(container_file(serde.schema, bodies))))
    assert [r["call_id"] for r in records if isinstance(r, dict)] == ["CA-0", "CA-1", "CA-2"]
    assert CallAnalyzed.model_validate(records[1]) == events[1]


def test_container_file_rejects_a_bad_sync_marker(serde: AvroSerde[CallAnalyzed]) -> None:
    with pytest.raises(ValueError, match=r"16 bytes"):
        container_file(serde.schema, [], sync=b"short")


def test_schema_resolver_accepts_only_the_analysis_contract(
    registry: LocalSchemaRegistry, serde: AvroSerde[CallAnalyzed]
) -> None:
    resolve = SchemaResolver(registry)
    assert resolve(serde.writer_id)["name"] == "CallAnalyzed"
    recording = AvroSerde(RecordingReady, registry, "callpipe.recordings-value")
    recording.serialize(example_recording())
    with pytest.raises(PoisonMessageError, match=r"not callpipe\.v1\.CallAnalyzed"):
        resolve(recording.writer_id)
    with pytest.raises(PoisonMessageError):
        resolve(987_654)


def test_split_rounds_puts_repeated_calls_into_later_inserts() -> None:
    def p(call_id: str, n: int) -> AnalysisPayload:
        return AnalysisPayload(1, bytes([n]), call_id)

    batch = [p("a", 1), p("b", 2), p("a", 3), p("c", 4), p("a", 5), p("b", 6)]
    rounds = split_rounds(batch)
    assert [[x.body[0] for x in r] for r in rounds] == [[1, 2, 4], [3, 6], [5]]
    assert all(len({x.call_id for x in r}) == len(r) for r in rounds)
    assert split_rounds([]) == []
