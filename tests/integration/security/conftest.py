"""A seeded chdb warehouse and the insights app over it, for the injection tests.

chdb opens one data directory per process (NOTES): run this directory in its own pytest process
when the sink's integration tests run too (they open another directory).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import clickhouse_connect
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from callpipe.avro import AvroSerde, LocalSchemaRegistry
from callpipe.models import CallAnalyzed
from callpipe_sink.avro_batch import SchemaResolver, decode_analysis
from callpipe_sink.insights import create_app
from callpipe_sink.settings import InsightsSettings
from callpipe_sink.synthetic import synthetic_analyses
from callpipe_sink.warehouse import Warehouse, apply_migrations
from callpipe_sink.writer import SinkWriter

SEED_END = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
TOKEN = "security-token-0123456789abcdef"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    client = clickhouse_connect.get_client(interface="chdb", path=str(tmp_path_factory.mktemp("chdb")))
    wh = Warehouse(client, f"sec_{uuid.uuid4().hex[:10]}", embedded=True)
    apply_migrations(wh)
    registry = LocalSchemaRegistry.from_directory()
    serde = AvroSerde(CallAnalyzed, registry, "callpipe.analyses-value")
    events = synthetic_analyses(400, end=SEED_END, days=10, seed=5)
    SinkWriter(wh, SchemaResolver(registry)).write([decode_analysis(serde.serialize_dict(e)) for e in events])
    yield wh
    client.close()


@pytest.fixture(scope="module")
def api(warehouse: Warehouse) -> Iterator[TestClient]:
    settings = InsightsSettings(token=SecretStr(TOKEN))
    with TestClient(create_app(warehouse, settings, clock=lambda: SEED_END)) as client:
        yield client
