"""A seeded chdb warehouse and the insights app over it, for the injection tests.

chdb opens one data directory per process (warehouse/client.py): the warehouse is a database of its own on the
session's shared embedded client (``chdb_client`` in tests/conftest.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from callpipe.avro import AvroSerde, LocalSchemaRegistry
from callpipe.models import CallAnalyzed
from callpipe_sink.avro_batch import SchemaResolver, decode_analysis
from callpipe_sink.insights import create_app
from callpipe_sink.settings import InsightsSettings
from callpipe_sink.warehouse import Warehouse, apply_migrations
from callpipe_sink.writer import SinkWriter
from callpipe_tools.synthetic.analyses import synthetic_analyses

SEED_END = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
TOKEN = "security-token-0123456789abcdef"


@pytest.fixture(scope="module")
def warehouse(chdb_client: Any) -> Iterator[Warehouse]:
    wh = Warehouse(chdb_client, f"sec_{uuid.uuid4().hex[:10]}", embedded=True)
    apply_migrations(wh)
    registry = LocalSchemaRegistry.from_directory()
    serde = AvroSerde(CallAnalyzed, registry, "callpipe.analyses-value")
    events = synthetic_analyses(400, end=SEED_END, days=10, seed=5)
    SinkWriter(wh, SchemaResolver(registry)).write([decode_analysis(serde.serialize_dict(e)) for e in events])
    yield wh
    wh.command("DROP DATABASE IF EXISTS {db:Identifier} SYNC")


@pytest.fixture(scope="module")
def api(warehouse: Warehouse) -> Iterator[TestClient]:
    settings = InsightsSettings(token=SecretStr(TOKEN))
    with TestClient(create_app(warehouse, settings, clock=lambda: SEED_END)) as client:
        yield client
