"""Stored calls in an embedded chdb directory and a local recording store, named by the
environment the way the CLI reads it (``CLICKHOUSE_*``, ``RECORDING_STORE_URL``).

The chdb client is opened and closed inside the fixture: the CLI opens its own on the same
directory, and a chdb client left open would keep other tests from opening theirs.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from pathlib import Path

import pytest

from callpipe.avro import AvroSerde, LocalSchemaRegistry
from callpipe.models import CallAnalyzed
from callpipe.models.common import RecordingSource
from callpipe.store import LocalRecordingStore
from callpipe_sink.avro_batch import SchemaResolver, decode_analysis
from callpipe_sink.settings import WarehouseSettings
from callpipe_sink.warehouse import Warehouse, apply_migrations, open_warehouse
from callpipe_sink.writer import SinkWriter
from callpipe_tools.examples import example_analysis

PHONE = "+15557770001"


@dataclass(frozen=True)
class StoredCalls:
    settings: WarehouseSettings
    store: LocalRecordingStore
    billing_id: str  # from PHONE, queue billing, with audio in the store
    sales_id: str  # from another number, queue sales
    audio_keys: tuple[str, ...]

    def count(self, sql: str) -> int:
        warehouse = open_warehouse(self.settings)
        try:
            return int(warehouse.rows(sql)[0][0])
        finally:
            warehouse.close()


def _seed(
    warehouse: Warehouse, store: LocalRecordingStore, call_id: str, phone: str, queue: str
) -> list[str]:
    audio = f"RIFF-audio-of-{call_id}".encode()
    sha = hashlib.sha256(audio).hexdigest()
    keys = [f"audio/{sha[:2]}/{sha}.wav", f"_ledger/content/{sha}.json"]
    uri = asyncio.run(store.put(keys[0], audio))
    asyncio.run(store.put(keys[1], b"{}"))
    event = example_analysis(call_id)
    metadata = event.metadata.model_copy(update={"from_number": phone, "queue": queue})
    event = event.model_copy(
        update={"audio_uri": uri, "source": RecordingSource.UPLOAD, "metadata": metadata}
    )
    registry = LocalSchemaRegistry.from_directory()
    body = AvroSerde(CallAnalyzed, registry, "callpipe.analyses-value").serialize(event)
    SinkWriter(warehouse, SchemaResolver(registry)).write([decode_analysis(body)])
    return keys


@pytest.fixture
def stored_calls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> StoredCalls:
    for name in ("CLICKHOUSE_URL", "CLICKHOUSE_CLUSTER", "CLICKHOUSE_DATABASE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLICKHOUSE_CHDB_PATH", str(tmp_path / "chdb"))
    monkeypatch.setenv("RECORDING_STORE_URL", f"file://{tmp_path / 'recordings'}")
    settings = WarehouseSettings()
    store = LocalRecordingStore(tmp_path / "recordings")
    warehouse = open_warehouse(settings)
    try:
        apply_migrations(warehouse)
        keys = _seed(warehouse, store, "CA-cli-billing", PHONE, "billing")
        keys += _seed(warehouse, store, "CA-cli-sales", "+15557770002", "sales")
    finally:
        warehouse.close()
    return StoredCalls(settings, store, "CA-cli-billing", "CA-cli-sales", tuple(keys))
