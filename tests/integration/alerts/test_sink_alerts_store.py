"""The sink's alerts table and ``GET /alerts`` on the embedded ClickHouse engine: alerts decoded
from their Avro bytes land once (a repeat collapses on alert_id) and the endpoint needs the token."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from clickhouse_connect.driver.client import Client
from fastapi.testclient import TestClient
from pydantic import SecretStr

from callpipe.avro import AvroSerde, LocalSchemaRegistry
from callpipe.models import AlertRaised
from callpipe.settings import KafkaSettings
from callpipe_sink.alerts_store import AlertsConsumer
from callpipe_sink.insights import create_app
from callpipe_sink.settings import InsightsSettings
from callpipe_sink.warehouse import Warehouse, apply_migrations

pytestmark = pytest.mark.integration

TOKEN = "alerts-test-token"
NOW = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)


@pytest.fixture
def warehouse(chdb_client: Client) -> Iterator[Warehouse]:
    wh = Warehouse(chdb_client, f"t_{uuid.uuid4().hex[:12]}", embedded=True)
    apply_migrations(wh)
    yield wh
    wh.command("DROP DATABASE IF EXISTS {db:Identifier} SYNC")


def _alert(rule: str, severity: str, start: datetime) -> AlertRaised:
    return AlertRaised(
        alert_id=f"{rule}-{start:%H%M}",
        rule=rule,
        kind="spike",
        severity=severity,
        subject="intent=cancel_service",
        window_start=start,
        window_end=start + timedelta(minutes=15),
        value=42.0,
        baseline=None,
        threshold=15.0,
        calls_in_window=180,
        message=f"{rule} fired",
        sample_call_ids=["CA1", "CA2"],
        raised_at=start + timedelta(minutes=17),
    )


def test_alerts_are_stored_once_and_served_with_the_token(warehouse: Warehouse) -> None:
    registry = LocalSchemaRegistry.from_directory()
    serde = AvroSerde(AlertRaised, registry, "callpipe.alerts-value")
    consumer = AlertsConsumer(warehouse, KafkaSettings(), "callpipe.alerts", registry)
    spike = _alert("intent_spike", "warning", NOW - timedelta(hours=1))
    churn = _alert("churn_rate", "critical", NOW - timedelta(minutes=30))
    old = _alert("intent_spike", "warning", NOW - timedelta(days=30))
    values = [serde.serialize(a) for a in (spike, churn, old, spike)] + [b"not avro"]
    rows = consumer.rows(values)
    assert len(rows) == 4  # the undecodable one is skipped
    asyncio.run(consumer._store(rows))

    settings = InsightsSettings(token=SecretStr(TOKEN))
    with TestClient(create_app(warehouse, settings, clock=lambda: NOW)) as api:
        assert api.get("/alerts").status_code == 401
        body = api.get("/alerts", headers={"Authorization": f"Bearer {TOKEN}"}).json()
        assert [(i["rule"], i["alert_id"]) for i in body["items"]] == [
            ("churn_rate", churn.alert_id),
            ("intent_spike", spike.alert_id),
        ]
        assert body["items"][1]["sample_call_ids"] == ["CA1", "CA2"]
        critical = api.get("/alerts?severity=critical", headers={"Authorization": f"Bearer {TOKEN}"}).json()
        assert [i["rule"] for i in critical["items"]] == ["churn_rate"]
        assert (
            api.get("/alerts?severity=loud", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 422
        )
