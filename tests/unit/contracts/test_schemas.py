"""The .avsc files in schemas/ are exactly what the pydantic models generate, and they evolve BACKWARD."""

from __future__ import annotations

import copy
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fastavro
import pytest

from callpipe.avro import AvroSerde, LocalSchemaRegistry, avro_schema, default_schema_dir, full_name
from callpipe.avro.contracts import CONTRACTS, render, write_schemas
from callpipe.errors import PoisonMessageError
from callpipe.models import AlertRaised, CallAnalyzed, RecordingReady, TranscriptReady
from callpipe_tools.examples import example_analysis, example_recording, example_transcript

SCHEMA_DIR = default_schema_dir()
EXAMPLES = {
    RecordingReady: example_recording(),
    TranscriptReady: example_transcript(),
    CallAnalyzed: example_analysis(),
    AlertRaised: AlertRaised(
        alert_id="5f1c0e",
        rule="intent_spike",
        kind="spike",
        severity="warning",
        subject="intent=cancel_service",
        window_start=datetime(2026, 11, 2, 14, 0, tzinfo=UTC),
        window_end=datetime(2026, 11, 2, 14, 15, tzinfo=UTC),
        value=42.0,
        baseline=6.5,
        threshold=19.5,
        calls_in_window=180,
        message="cancel_service: 42 calls in 15 min, baseline 6.5",
        sample_call_ids=["CA1", "CA2"],
        raised_at=datetime(2026, 11, 2, 14, 17, tzinfo=UTC),
    ),
}


@pytest.mark.parametrize("model", CONTRACTS, ids=lambda m: m.__name__)
def test_committed_schema_is_what_the_model_generates(model: Any) -> None:
    committed = (SCHEMA_DIR / f"{full_name(model)}.avsc").read_text()
    assert committed == render(avro_schema(model)), (
        "schemas/ drifted from the pydantic model: run `python -m callpipe.avro.contracts`"
    )


def test_write_schemas_is_a_no_op_on_the_committed_tree(tmp_path: Path) -> None:
    for f in SCHEMA_DIR.iterdir():
        (tmp_path / f.name).write_text(f.read_text())
    assert write_schemas(tmp_path) == []


def _walk_fields(schema: Any, seen: list[tuple[str, str]]) -> None:
    if isinstance(schema, dict):
        if schema.get("type") == "record":
            assert schema.get("doc"), f"record {schema['name']} has no doc"
            for field in schema["fields"]:
                seen.append((schema["name"], field["name"]))
                assert field.get("doc"), f"{schema['name']}.{field['name']} has no doc"
                _walk_fields(field["type"], seen)
        elif schema.get("type") in ("array", "map"):
            _walk_fields(schema.get("items", schema.get("values")), seen)
    elif isinstance(schema, list):
        for branch in schema:
            _walk_fields(branch, seen)


@pytest.mark.parametrize("model", CONTRACTS, ids=lambda m: m.__name__)
def test_every_field_is_documented_and_namespaced(model: Any) -> None:
    schema = json.loads((SCHEMA_DIR / f"{full_name(model)}.avsc").read_text())
    assert schema["namespace"] == "callpipe.v1"
    seen: list[tuple[str, str]] = []
    _walk_fields(schema, seen)
    assert len(seen) >= len(model.model_fields)


@pytest.mark.parametrize("model", CONTRACTS, ids=lambda m: m.__name__)
def test_full_example_round_trips_through_avro(model: Any) -> None:
    serde = AvroSerde(model, LocalSchemaRegistry.from_directory(), f"{model.__name__}-value")
    event = EXAMPLES[model]
    data = serde.serialize(event)
    assert data[0] == 0 and int.from_bytes(data[1:5], "big") == serde.writer_id
    assert serde.deserialize(data) == event


def test_registry_ids_are_stable_and_unique() -> None:
    manifest = json.loads((SCHEMA_DIR / "registry.json").read_text())
    ids = [e["id"] for e in manifest["schemas"]]
    assert len(ids) == len(set(ids))
    # Ids of the first versions are part of the contract: data on topics refers to them.
    first = {e["record"]: e["id"] for e in manifest["schemas"] if e["version"] == 1}
    assert first == {
        "callpipe.v1.RecordingReady": 1,
        "callpipe.v1.TranscriptReady": 2,
        "callpipe.v1.CallAnalyzed": 3,
        "callpipe.v1.AlertRaised": 7,
    }


def _with_added_field(schema: dict[str, Any]) -> dict[str, Any]:
    new = copy.deepcopy(schema)
    new["fields"].append(
        {"name": "added_in_v2", "type": "string", "default": "unset", "doc": "A field added later."}
    )
    return new


def _avro_roundtrip(writer: dict[str, Any], reader: dict[str, Any], record: dict[str, Any]) -> Any:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, fastavro.parse_schema(writer), record)
    buf.seek(0)
    return fastavro.schemaless_reader(buf, fastavro.parse_schema(writer), fastavro.parse_schema(reader))


@pytest.mark.parametrize("model", CONTRACTS, ids=lambda m: m.__name__)
def test_backward_evolution_in_both_directions(model: Any) -> None:
    old = avro_schema(model)
    new = _with_added_field(old)
    record = EXAMPLES[model].model_dump(mode="python")
    # BACKWARD: a consumer on the new schema reads data written with the old one (default filled).
    read_new = _avro_roundtrip(old, new, record)
    assert read_new["added_in_v2"] == "unset"
    assert model.model_validate({k: v for k, v in read_new.items() if k != "added_in_v2"}) == EXAMPLES[model]
    # And the reverse (FORWARD), which an added field with a default also promises: an old
    # consumer reads data from a newer producer and simply ignores the new field.
    read_old = _avro_roundtrip(new, old, {**record, "added_in_v2": "set"})
    assert "added_in_v2" not in read_old
    assert model.model_validate(read_old) == EXAMPLES[model]


def test_serde_resolves_an_older_writer_version_by_id() -> None:
    current = avro_schema(RecordingReady)
    older = copy.deepcopy(current)
    older["fields"] = [f for f in older["fields"] if f["name"] != "timings"]  # v0 lacked timings
    registry = LocalSchemaRegistry({1: current, 7: older})
    serde = AvroSerde(RecordingReady, registry, "recordings-value")
    record = example_recording().model_dump(mode="python")
    del record["timings"]
    buf = io.BytesIO()
    buf.write(b"\x00" + (7).to_bytes(4, "big"))
    fastavro.schemaless_writer(buf, fastavro.parse_schema(older), record)
    event = serde.deserialize(buf.getvalue())
    assert event.timings == [] and event.call_id == example_recording().call_id


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "too short"),
        (b"\x01\x00\x00\x00\x01abc", "magic byte"),
        (b"\x00\x00\x00\x03\xe7\x02", "unknown schema id"),
        (b"\x00\x00\x00\x00\x01\xff\xff\xff", "does not decode"),
    ],
)
def test_bad_bytes_are_poison_with_a_reason(data: bytes, reason: str) -> None:
    serde = AvroSerde(RecordingReady, LocalSchemaRegistry.from_directory(), "recordings-value")
    with pytest.raises(PoisonMessageError, match=reason):
        serde.deserialize(data)


def test_wrong_record_type_is_poison() -> None:
    registry = LocalSchemaRegistry.from_directory()
    analysis_bytes = AvroSerde(CallAnalyzed, registry, "a-value").serialize(example_analysis())
    with pytest.raises(PoisonMessageError, match="RecordingReady"):
        AvroSerde(RecordingReady, registry, "r-value").deserialize(analysis_bytes)
