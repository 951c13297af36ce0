"""A fresh callpipe database per test on the session's chdb client (see tests/integration/sink)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from clickhouse_connect.driver.client import Client

from callpipe_sink.warehouse import Warehouse, apply_migrations


@pytest.fixture
def warehouse(chdb_client: Client) -> Iterator[Warehouse]:
    wh = Warehouse(chdb_client, f"t_{uuid.uuid4().hex[:12]}", embedded=True)
    apply_migrations(wh)
    yield wh
    wh.command("DROP DATABASE IF EXISTS {db:Identifier} SYNC")
