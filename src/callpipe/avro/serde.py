"""Avro in the Confluent wire format: magic byte 0, 4-byte big-endian schema id, Avro binary body.

Writers use the schema generated from the current model; readers resolve the writer's schema by
id and read it into the current schema (Avro schema resolution), which is what makes BACKWARD
evolution work: a consumer reads data written with an older or newer compatible version.
"""

from __future__ import annotations

import io
import struct
from typing import Any, Generic, TypeVar

from fastavro import parse_schema, schemaless_reader, schemaless_writer

from callpipe.avro.registry import SchemaRegistry
from callpipe.avro.schema import avro_schema
from callpipe.errors import CallpipeError, InvalidOutputError, PoisonMessageError
from callpipe.models.common import Contract

__all__ = ["MAGIC_BYTE", "AvroSerde", "split_wire_header"]

MAGIC_BYTE = 0
_HEADER = struct.Struct(">bI")

M = TypeVar("M", bound=Contract)


def split_wire_header(data: bytes) -> tuple[int, memoryview]:
    """Schema id and Avro body of a Confluent-framed message; PoisonMessageError if not framed."""
    if len(data) < _HEADER.size:
        raise PoisonMessageError(f"message of {len(data)} bytes is too short for the Confluent wire format")
    magic, schema_id = _HEADER.unpack_from(data)
    if magic != MAGIC_BYTE:
        raise PoisonMessageError(f"unknown magic byte {magic} (expected {MAGIC_BYTE}: Confluent wire format)")
    return schema_id, memoryview(data)[_HEADER.size :]


class AvroSerde(Generic[M]):
    """Serializer and deserializer of one contract on one subject."""

    def __init__(self, model: type[M], registry: SchemaRegistry, subject: str) -> None:
        self.model = model
        self.subject = subject
        self._registry = registry
        self.schema = avro_schema(model)
        self._parsed = parse_schema(self.schema)
        self._writer_id: int | None = None
        self._writer_cache: dict[int, Any] = {}

    @property
    def writer_id(self) -> int:
        if self._writer_id is None:
            self._writer_id = self._registry.id_for(self.subject, self.schema)
        return self._writer_id

    def serialize(self, event: M) -> bytes:
        return self.serialize_dict(event.model_dump(mode="python"))

    def serialize_dict(self, record: dict[str, Any]) -> bytes:
        buf = io.BytesIO()
        buf.write(_HEADER.pack(MAGIC_BYTE, self.writer_id))
        try:
            schemaless_writer(buf, self._parsed, record)
        except (TypeError, ValueError, KeyError, OverflowError) as exc:
            # fastavro's own errors must not cross the stage: an event that breaks its contract
            # cannot be produced however often it is retried (dead-letter, with the reason).
            raise InvalidOutputError(f"{self.model.__name__} breaks its Avro contract: {exc}") from exc
        return buf.getvalue()

    def deserialize_dict(self, data: bytes) -> dict[str, Any]:
        """Decode into a plain dict in the current schema's shape (fast path for batch sinks)."""
        schema_id, body = split_wire_header(data)
        writer = self._writer_schema(schema_id)
        try:
            record = schemaless_reader(
                io.BytesIO(body), writer, self._parsed if writer is not self._parsed else None
            )
        except CallpipeError:
            raise
        except Exception as exc:
            raise PoisonMessageError(
                f"Avro body does not decode with schema id {schema_id}: {exc!r}"
            ) from exc
        if not isinstance(record, dict):
            raise PoisonMessageError(f"schema id {schema_id} is not a record schema")
        return record

    def deserialize(self, data: bytes) -> M:
        record = self.deserialize_dict(data)
        try:
            return self.model.model_validate(record)
        except ValueError as exc:
            raise PoisonMessageError(f"{self.model.__name__} breaks its contract: {exc}") from exc

    def _writer_schema(self, schema_id: int) -> Any:
        cached = self._writer_cache.get(schema_id)
        if cached is not None:
            return cached
        if self._writer_id is not None and schema_id == self._writer_id:
            parsed = self._parsed
        else:
            schema = self._registry.schema_for(schema_id)
            try:
                parsed = parse_schema(schema)
            except Exception as exc:
                raise PoisonMessageError(f"writer schema {schema_id} does not parse: {exc}") from exc
            if schema.get("name") != self.schema["name"]:
                raise PoisonMessageError(
                    f"schema id {schema_id} is {schema.get('name')!r}, not {self.schema['name']!r}"
                )
        self._writer_cache[schema_id] = parsed
        return parsed
