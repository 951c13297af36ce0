"""Avro contracts: schema generation from the models, registries, and the Confluent wire format."""

from callpipe.avro.registry import (
    ConfluentSchemaRegistry,
    LocalSchemaRegistry,
    SchemaRegistry,
    default_schema_dir,
    registry_from_settings,
    schema_fingerprint,
)
from callpipe.avro.schema import avro_schema, full_name
from callpipe.avro.serde import MAGIC_BYTE, AvroSerde, split_wire_header

__all__ = [
    "MAGIC_BYTE",
    "AvroSerde",
    "ConfluentSchemaRegistry",
    "LocalSchemaRegistry",
    "SchemaRegistry",
    "avro_schema",
    "default_schema_dir",
    "full_name",
    "registry_from_settings",
    "schema_fingerprint",
    "split_wire_header",
]
