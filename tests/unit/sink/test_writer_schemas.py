"""Bodies of an older writer schema are re-encoded in the current one; current ones pass untouched."""

from __future__ import annotations

import io

from fastavro import parse_schema, schemaless_reader, schemaless_writer

from callpipe.avro import LocalSchemaRegistry, avro_schema
from callpipe.models import CallAnalyzed
from callpipe_sink.writer_schemas import WriterSchemaUpgrade
from callpipe_tools.examples import example_analysis

REGISTRY = LocalSchemaRegistry.from_directory()
V1_ID = 3  # CallAnalyzed before churn_risk (schemas/registry.json)


def _body(schema: dict[str, object], record: dict[str, object]) -> bytes:
    buf = io.BytesIO()
    schemaless_writer(buf, parse_schema(schema), record)
    return buf.getvalue()


def test_current_bodies_pass_through_and_v1_bodies_get_the_default() -> None:
    upgrade = WriterSchemaUpgrade()
    current = avro_schema(CallAnalyzed)
    record = example_analysis("CA-1").model_dump(mode="python")
    body = _body(current, record)
    schema, bodies = upgrade(current, [body])
    assert schema is current and bodies == [body]

    v1 = REGISTRY.schema_for(V1_ID)
    old = dict(record, analysis={k: v for k, v in record["analysis"].items() if k != "churn_risk"})
    schema, bodies = upgrade(v1, [_body(v1, old)])
    assert schema == current
    decoded = schemaless_reader(io.BytesIO(bodies[0]), parse_schema(current), None)
    assert isinstance(decoded, dict) and decoded["analysis"]["churn_risk"] == "low"
    assert decoded["analysis"]["escalation_risk"] == record["analysis"]["escalation_risk"].value
