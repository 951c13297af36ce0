"""The insights API over seeded chdb data: answers match SQL over the same rows, trends find the
seeded surge, auth and 422s hold."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from callpipe.avro import AvroSerde
from callpipe_sink.avro_batch import decode_analysis
from callpipe_sink.insights import create_app
from callpipe_sink.settings import InsightsSettings
from callpipe_sink.warehouse import Warehouse
from callpipe_sink.writer import SinkWriter
from callpipe_tools.synthetic.analyses import Surge, synthetic_analyses
from tests.integration.sink.sink_it_support import SEED_END, TOKEN

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def seeded(warehouse: Warehouse, writer: SinkWriter, serde: AvroSerde[Any]) -> list[dict[str, Any]]:
    events = list(synthetic_analyses(6000, end=SEED_END, days=30, seed=21, surge=Surge("outage", 24, 0.35)))
    payloads = [decode_analysis(serde.serialize_dict(e)) for e in events]
    for i in range(0, len(payloads), 2000):
        writer.write(payloads[i : i + 2000])
    return events


@pytest.fixture
def api(warehouse: Warehouse) -> Iterator[TestClient]:
    settings = InsightsSettings(token=SecretStr(TOKEN))
    with TestClient(create_app(warehouse, settings, clock=lambda: SEED_END)) as client:
        yield client


def _recent(events: list[dict[str, Any]], days: float) -> list[dict[str, Any]]:
    since = SEED_END - timedelta(days=days)
    return [e for e in events if e["metadata"]["started_at"] >= since]


def test_insights_match_the_seeded_calls(api: TestClient, seeded: list[dict[str, Any]]) -> None:
    body = api.get("/insights", params={"days": 7}, headers=AUTH).json()
    # Rollups are hourly: the window starts at a whole hour, so compare against hour-floored times.
    since = (SEED_END - timedelta(days=7)).replace(minute=0, second=0, microsecond=0)
    window = [
        e for e in seeded if e["metadata"]["started_at"].replace(minute=0, second=0, microsecond=0) >= since
    ]
    expected = Counter(e["analysis"]["intent"] for e in window)
    assert body["total_calls"] == len(window)
    assert {i["intent"]: i["calls"] for i in body["intents"]} == dict(expected)
    billing = [e for e in window if e["analysis"]["intent"] == "billing_dispute"]
    row = next(i for i in body["intents"] if i["intent"] == "billing_dispute")
    assert row["escalations"] == sum(e["analysis"]["escalation_risk"] == "high" for e in billing)
    assert row["churn_risks"] == sum(e["analysis"]["churn_risk"] == "high" for e in billing)
    assert row["churn_risks"] > 0  # the seed has churn risks to count
    assert row["avg_satisfaction"] == pytest.approx(
        sum(e["analysis"]["satisfaction_score"] for e in billing) / len(billing), abs=0.01
    )
    topics = Counter(t for e in window for t in set(e["analysis"]["key_topics"]))
    assert body["topics"][0]["topic"] == topics.most_common(1)[0][0]
    assert body["topics"][0]["calls"] == topics.most_common(1)[0][1]


def test_trends_flag_the_seeded_surge_with_its_statistic(
    api: TestClient, seeded: list[dict[str, Any]]
) -> None:
    body = api.get("/trends", params={"recent_hours": 24, "baseline_days": 28}, headers=AUTH).json()
    rising = {(r["kind"], r["label"]) for r in body["rising"]}
    assert ("topic", "outage") in rising
    outage = next(r for r in body["tested"] if r["label"] == "outage")
    assert outage["z"] > 5 and outage["p_value"] < body["threshold"]
    assert outage["recent_share"] > outage["baseline_share"]
    # Nothing else was seeded to rise: no other label may pass the corrected threshold.
    assert rising == {("topic", "outage")}
    assert body["recent_calls"] > 0 and body["baseline_calls"] > body["recent_calls"]


def test_calls_filters_and_paging(api: TestClient, seeded: list[dict[str, Any]]) -> None:
    params: dict[str, str | int] = {"intent": "cancel_service", "escalation_risk": "high", "limit": 7}
    first = api.get("/calls", params=params, headers=AUTH).json()
    expected = [
        e
        for e in seeded
        if e["analysis"]["intent"] == "cancel_service" and e["analysis"]["escalation_risk"] == "high"
    ]
    assert first["total"] == len(expected)
    assert len(first["items"]) == 7 and first["next_offset"] == 7
    second = api.get("/calls", params={**params, "offset": 7}, headers=AUTH).json()
    ids = [c["call_id"] for c in first["items"] + second["items"]]
    assert len(set(ids)) == 14
    newest = sorted(expected, key=lambda e: e["metadata"]["started_at"], reverse=True)[:14]
    assert ids == [e["call_id"] for e in newest]


def test_calls_filter_by_churn_risk_apart_from_escalation(
    api: TestClient, seeded: list[dict[str, Any]]
) -> None:
    params: dict[str, str | int] = {"churn_risk": "high", "escalation_risk": "low", "limit": 100}
    body = api.get("/calls", params=params, headers=AUTH).json()
    expected = {
        e["call_id"]
        for e in seeded
        if e["analysis"]["churn_risk"] == "high" and e["analysis"]["escalation_risk"] == "low"
    }
    assert body["total"] == len(expected) > 0
    assert len(body["items"]) == min(100, len(expected))
    assert {c["call_id"] for c in body["items"]} <= expected
    assert {(c["churn_risk"], c["escalation_risk"]) for c in body["items"]} == {("high", "low")}
    detail = api.get(f"/calls/{body['items'][0]['call_id']}", headers=AUTH).json()
    assert detail["call"]["churn_risk"] == "high"
    assert api.get("/calls", params={"churn_risk": "certain"}, headers=AUTH).status_code == 422


def test_call_detail_has_analysis_and_transcript(api: TestClient, seeded: list[dict[str, Any]]) -> None:
    event = seeded[123]
    body = api.get(f"/calls/{event['call_id']}", headers=AUTH).json()
    assert body["call"]["intent"] == event["analysis"]["intent"]
    assert body["call"]["summary"] == event["analysis"]["summary"]
    assert [u["text"] for u in body["transcript"]] == [u["text"] for u in event["utterances"]]
    assert api.get("/calls/CA-does-not-exist", headers=AUTH).status_code == 404


def test_search_finds_utterances_with_all_words(api: TestClient, seeded: list[dict[str, Any]]) -> None:
    body = api.get("/search", params={"q": "Router dropping", "limit": 200}, headers=AUTH).json()
    assert body["tokens"] == ["router", "dropping"]
    assert body["hits"], "the seeded phrase must be found"
    assert all("router" in h["text"].lower() and "dropping" in h["text"].lower() for h in body["hits"])
    expected = sum(
        1
        for e in seeded
        for u in e["utterances"]
        if "router" in u["text"].lower() and "dropping" in u["text"].lower()
    )
    assert len(body["hits"]) == min(expected, 200)


def test_every_data_endpoint_requires_the_token(api: TestClient, seeded: list[dict[str, Any]]) -> None:
    paths = [
        "/insights",
        "/trends",
        "/timeseries",
        "/breakdown",
        "/calls",
        f"/calls/{seeded[0]['call_id']}",
        "/search?q=refund",
    ]
    for path in paths:
        assert api.get(path).status_code == 401, path
        assert api.get(path, headers={"Authorization": "Bearer wrong-token-wrong-token"}).status_code == 401
        assert api.get(path, headers=AUTH).status_code == 200, path
    assert api.get("/").status_code == 200  # the page carries no data


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/insights?days=0", "greater than or equal to 1"),
        ("/insights?days=abc", "valid integer"),
        ("/trends?alpha=2", "less than 0.5"),
        ("/calls?limit=100000", "at most 500"),
        ("/calls?since=2026-11-10T00:00:00Z&until=2026-11-01T00:00:00Z", "since must be before until"),
        ("/calls?min_satisfaction=8&max_satisfaction=3", "must not exceed"),
        ("/calls?sentiment=furious", "positive"),
        ("/calls?intent=" + "x" * 300, "pattern"),
        ("/search?q=%21%21%21", "no searchable word"),
        ("/search?q=", "at least 1 character"),
        ("/timeseries?bucket=minute", "hour"),
    ],
)
def test_bad_parameters_get_422_with_a_reason(api: TestClient, path: str, reason: str) -> None:
    response = api.get(path, headers=AUTH)
    assert response.status_code == 422
    assert reason in response.text


def test_timeseries_and_breakdown_cover_the_window(api: TestClient, seeded: list[dict[str, Any]]) -> None:
    series = api.get("/timeseries", params={"days": 7, "bucket": "day"}, headers=AUTH).json()
    since = (SEED_END - timedelta(days=7)).replace(minute=0, second=0, microsecond=0)
    window = [
        e for e in seeded if e["metadata"]["started_at"].replace(minute=0, second=0, microsecond=0) >= since
    ]
    assert sum(p["calls"] for p in series["points"]) == len(window)
    breakdown = api.get("/breakdown", params={"days": 7}, headers=AUTH).json()
    assert sum(a["calls"] for a in breakdown["agents"]) == len(window)
    assert 0 < breakdown["roles"]["caller_talk_share"] < 1
