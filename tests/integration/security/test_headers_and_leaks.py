"""Issue 16 point 4 and 7 probes on both HTTP services: no 500 on odd dates, no internal URL in a
403, no API map by default, security headers on every answer."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from callpipe.avro import LocalSchemaRegistry
from callpipe.security_headers import CONTENT_SECURITY_POLICY
from callpipe.store import LocalRecordingStore
from callpipe_ingest.app import create_app
from callpipe_sink.insights import create_app as create_insights
from callpipe_sink.settings import InsightsSettings
from callpipe_sink.warehouse import Warehouse
from tests.integration.security.conftest import SEED_END, TOKEN
from tests.unit.ingest.ingest_support import API_TOKEN, BASE, MemorySender, make_settings

READ = {"Authorization": f"Bearer {TOKEN}"}
EXPECTED = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
}


async def _ready() -> str | None:
    return None


def _ingest(tmp_path, **settings: object) -> TestClient:
    app = create_app(
        make_settings(**settings), MemorySender(), LocalRecordingStore(tmp_path / "rec"),
        registry=LocalSchemaRegistry.from_directory(), readiness=_ready,
    )  # fmt: skip
    return TestClient(app, base_url=BASE)


@pytest.mark.parametrize(
    "query",
    ["since=0001-01-02T00:00:00Z", "until=9999-12-31T00:00:00Z", "since=1970-01-01T00:00:00Z"],
)
def test_insights_dates_out_of_range_are_422_not_500(api: TestClient, query: str) -> None:
    answer = api.get(f"/calls?{query}", headers=READ)
    assert answer.status_code == 422, answer.text
    assert "between 2000-01-01" in answer.json()["detail"]


def test_insights_labels_use_the_ingest_pattern(api: TestClient) -> None:
    for bad in ("a%07b", "%3Cscript%3E", "x" * 129):
        assert api.get(f"/calls?agent_id={bad}", headers=READ).status_code == 422


def test_insights_headers_on_page_data_and_errors(api: TestClient) -> None:
    for path, headers, cache in [
        ("/", {}, "no-store"),
        ("/calls", READ, "no-store"),
        ("/calls", {}, "no-store"),  # 401
        ("/calls?limit=0", READ, "no-store"),  # 422
        ("/static/dashboard.js", {}, None),
    ]:
        answer = api.get(path, headers=headers)
        for name, value in EXPECTED.items():
            assert answer.headers.get(name) == value, (path, name)
        assert answer.headers.get("cache-control") == cache, path


def test_insights_docs_off_by_default_and_on_by_setting(api: TestClient, warehouse: Warehouse) -> None:
    for path in ("/docs", "/openapi.json", "/redoc"):
        assert api.get(path).status_code == 404
    settings = InsightsSettings(token=SecretStr(TOKEN), docs_enabled=True)
    with TestClient(create_insights(warehouse, settings, clock=lambda: SEED_END)) as client:
        assert client.get("/openapi.json").status_code == 200


def test_ingest_docs_off_headers_on_and_403_hides_the_internal_url(tmp_path) -> None:
    with _ingest(tmp_path) as client:
        for path in ("/docs", "/openapi.json"):
            assert client.get(path).status_code == 404
        forged = client.post("/twilio/voice", data={"CallSid": "CA1"}, headers={"X-Twilio-Signature": "Zm9v"})
        assert forged.status_code == 403
        assert "example.com" not in forged.text and "http" not in forged.text
        for answer in (forged, client.get("/healthz")):
            for name, value in EXPECTED.items():
                assert answer.headers.get(name) == value, name
            assert answer.headers["cache-control"] == "no-store"
        big = client.post(
            "/recordings",
            content=b"x" * 10,
            headers={"Content-Length": str(10**9), "Authorization": f"Bearer {API_TOKEN}"},
        )
        assert big.status_code == 413
        assert big.headers["x-frame-options"] == "DENY"
    with _ingest(tmp_path, docs_enabled=True) as client:
        assert client.get("/openapi.json").status_code == 200
