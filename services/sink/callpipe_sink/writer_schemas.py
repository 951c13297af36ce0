"""Bodies of another writer schema → bodies of the schema ``analyses_in`` mirrors.

ClickHouse resolves top-level Avro fields by name (a missing one takes the column default), but not
inside nested records: an analysis written by CallAnalyzed v1 (no ``analysis.churn_risk``) is
refused with "the number of leaves in record doesn't match the number of elements in tuple".
So during a rolling upgrade, when an analyzer still writes an older schema (or already a newer
one), its bodies are resolved here by Avro's own rules (fastavro: writer schema → reader schema,
defaults for added fields, unknown fields dropped) and re-encoded in the current schema. Messages
of the current schema — the steady state — are passed through untouched, undecoded.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

from fastavro import parse_schema, schemaless_reader, schemaless_writer

from callpipe.avro import avro_schema, schema_fingerprint
from callpipe.errors import PoisonMessageError
from callpipe.models import CallAnalyzed

__all__ = ["WriterSchemaUpgrade"]


class WriterSchemaUpgrade:
    """``(writer schema, bodies) → (current schema, bodies)``; cached per writer schema."""

    def __init__(self, current: dict[str, Any] | None = None) -> None:
        self.current = current if current is not None else avro_schema(CallAnalyzed)
        self._current_fp = schema_fingerprint(self.current)
        self._reader = parse_schema(self.current)
        self._writers: dict[str, Any] = {}

    def __call__(self, writer: dict[str, Any], bodies: Iterable[bytes]) -> tuple[dict[str, Any], list[bytes]]:
        fingerprint = schema_fingerprint(writer)
        if fingerprint == self._current_fp:
            return writer, list(bodies)
        parsed = self._writers.get(fingerprint)
        if parsed is None:
            parsed = self._writers[fingerprint] = parse_schema(writer)
        out: list[bytes] = []
        for body in bodies:
            try:
                record = schemaless_reader(io.BytesIO(body), parsed, self._reader)
            except Exception as exc:  # fastavro raises several types for a body that does not fit
                raise PoisonMessageError(f"analysis does not decode with its writer schema: {exc}") from exc
            buf = io.BytesIO()
            schemaless_writer(buf, self._reader, record)
            out.append(buf.getvalue())
        return self.current, out
