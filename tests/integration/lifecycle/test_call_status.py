"""Per-call status end to end: real broker, real stage runners and dead letters, chdb, the API."""

from __future__ import annotations

import uuid

import httpx
from pydantic import SecretStr

from callpipe.avro import AvroSerde, LocalSchemaRegistry
from callpipe.models import CallAnalyzed
from callpipe_bench.call_status_probe import PROBE_TOKEN, StatusProbe
from callpipe_sink.avro_batch import SchemaResolver, decode_analysis
from callpipe_sink.insights import create_app
from callpipe_sink.settings import InsightsSettings
from callpipe_sink.warehouse import Warehouse
from callpipe_sink.writer import SinkWriter
from callpipe_tools.examples import example_analysis


async def test_bad_file_dead_letter_and_declined_call_show_state_and_reason(
    kafka_bootstrap: str, warehouse: Warehouse
) -> None:
    probe = StatusProbe(kafka_bootstrap, warehouse, max_attempts=2)
    await probe.start()
    try:
        expected = probe.produce_calls(uuid.uuid4().hex[:6])
        seen = await probe.wait_for_states(expected, timeout_s=90)
    finally:
        await probe.stop()
    assert set(seen) == set(expected), f"states not reached: {set(expected) - set(seen)}"
    bad, dead, declined = (seen[c][1] for c in expected)

    assert bad["failed"] and bad["stage"] == "transcriber"
    assert "WAV header truncated" in bad["reason"]
    failed = [e for e in bad["events"] if e["event"] == "dead_lettered"]
    assert failed[0]["error_class"] == "InvalidInputError" and failed[0]["attempts"] == 1
    assert bad["events"][0]["event"] == "received"

    assert dead["failed"] and dead["stage"] == "analyzer" and "503" in dead["reason"]
    assert {e["event"] for e in dead["events"]} == {"received", "transcribed", "dead_lettered"}
    last = next(e for e in dead["events"] if e["event"] == "dead_lettered")
    assert last["error_class"] == "TransientError" and last["attempts"] == 2

    assert declined["state"] == "consent_declined" and not declined["failed"]
    assert "dtmf" in declined["reason"]

    # /insights counts the two dead-lettered calls; /failures lists them with their reasons.
    headers = {"Authorization": f"Bearer {PROBE_TOKEN}"}
    transport = httpx.ASGITransport(app=probe.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=headers) as client:
        insights = (await client.get("/insights?days=1")).json()
        assert insights["dead_lettered_calls"] == 2
        failures = (await client.get("/failures?days=1")).json()
        assert failures["total"] == 2
        assert {f["stage"] for f in failures["items"]} == {"transcriber", "analyzer"}
        assert (await client.get("/calls/never-seen/status")).status_code == 404
        assert (
            await client.get("/calls/x/status", headers={"Authorization": "Bearer no"})
        ).status_code == 401


async def test_a_stored_call_reads_analyzed_then_stored_and_a_redelivery_adds_no_event(
    warehouse: Warehouse,
) -> None:
    registry = LocalSchemaRegistry.from_directory()
    serde = AvroSerde(CallAnalyzed, registry, "callpipe.analyses-value")
    writer = SinkWriter(warehouse, SchemaResolver(registry))
    payload = decode_analysis(serde.serialize(example_analysis("CA-status-1")))
    writer.write([payload])
    writer.write([payload])  # a redelivery: calls gets nothing new, so neither does call_events
    app = create_app(warehouse, InsightsSettings(token=SecretStr(PROBE_TOKEN)))
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {PROBE_TOKEN}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=headers) as client:
        body = (await client.get("/calls/CA-status-1/status")).json()
    assert body["state"] == "stored" and not body["failed"]
    assert [e["event"] for e in body["events"]] == ["analyzed", "stored"]
    rows = warehouse.rows("SELECT count() FROM {db:Identifier}.call_events WHERE call_id = 'CA-status-1'")
    assert rows[0][0] == 2
