"""CallAnalyzed bytes → dict in the *writer's* schema, so fields newer than this service are kept."""

from __future__ import annotations

import io
from typing import Any

from fastavro import parse_schema, schemaless_reader

from callpipe.avro import SchemaRegistry
from callpipe.avro.serde import split_wire_header
from callpipe.errors import PoisonMessageError

__all__ = ["WriterSchemaDecoder"]


class WriterSchemaDecoder:
    def __init__(self, registry: SchemaRegistry) -> None:
        self._registry = registry
        self._parsed: dict[int, Any] = {}

    def decode(self, data: bytes) -> dict[str, Any]:
        schema_id, body = split_wire_header(data)
        parsed = self._parsed.get(schema_id)
        if parsed is None:
            parsed = self._parsed[schema_id] = parse_schema(self._registry.schema_for(schema_id))
        try:
            record = schemaless_reader(io.BytesIO(body), parsed, None)
        except Exception as exc:
            raise PoisonMessageError(
                f"Avro body does not decode with schema id {schema_id}: {exc!r}"
            ) from exc
        if not isinstance(record, dict):
            raise PoisonMessageError(f"schema id {schema_id} is not a record schema")
        return record
