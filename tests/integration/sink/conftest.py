"""chdb fixtures for the sink's integration tests.

chdb lets a process open one data directory only (warehouse/client.py), so every test of
the session shares one embedded client (``chdb_client`` in tests/conftest.py) and gets its
own database (a fresh ``Warehouse``), like clickhouse-connect's own integration tests do
with a random database per run.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from clickhouse_connect.driver.client import Client

from callpipe.avro import AvroSerde, LocalSchemaRegistry
from callpipe.models import CallAnalyzed
from callpipe_sink.avro_batch import SchemaResolver
from callpipe_sink.warehouse import Warehouse, apply_migrations
from callpipe_sink.writer import SinkWriter


@pytest.fixture
def warehouse(chdb_client: Client) -> Iterator[Warehouse]:
    wh = Warehouse(chdb_client, f"t_{uuid.uuid4().hex[:12]}", embedded=True)
    apply_migrations(wh)
    yield wh
    wh.command("DROP DATABASE IF EXISTS {db:Identifier} SYNC")


@pytest.fixture(scope="session")
def registry() -> LocalSchemaRegistry:
    return LocalSchemaRegistry.from_directory()


@pytest.fixture(scope="session")
def serde(registry: LocalSchemaRegistry) -> AvroSerde[CallAnalyzed]:
    return AvroSerde(CallAnalyzed, registry, "callpipe.analyses-value")


@pytest.fixture
def writer(warehouse: Warehouse, registry: LocalSchemaRegistry) -> SinkWriter:
    return SinkWriter(warehouse, SchemaResolver(registry))
