"""Categories and QA scorecards through the sink (CallAnalyzed v3 → call_quality, migration 0009)
and the insights API: stored with evidence, replaced on re-analysis, never double counted, filtered
and rolled up per agent, token required."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from callpipe.avro import AvroSerde
from callpipe.models import CallAnalyzed, CategoryEvidence, CategoryMatch, Scorecard, ScorecardAnswer
from callpipe_sink.avro_batch import decode_analysis
from callpipe_sink.insights import create_app
from callpipe_sink.settings import InsightsSettings
from callpipe_sink.warehouse import Warehouse
from callpipe_sink.writer import SinkWriter
from callpipe_tools.examples import example_analysis
from tests.integration.sink.sink_it_support import TOKEN

AUTH = {"Authorization": f"Bearer {TOKEN}"}
NOW = datetime(2026, 3, 20, 12, tzinfo=UTC)


def _call(
    call_id: str, agent: str, day: int, categories: list[str], score: float | None, analyzed_shift_s: int = 0
) -> CallAnalyzed:
    event = example_analysis(call_id, agent_id=agent, started_at=NOW - timedelta(days=day, hours=1))
    matches = [
        CategoryMatch(
            name=name,
            evidence=[
                CategoryEvidence(
                    rule=f"rule of {name}",
                    utterance_index=1,
                    start_s=3.5,
                    end_s=6.0,
                    text="I want a supervisor",
                )
            ],
        )
        for name in categories
    ]
    card = Scorecard(
        form="standard_qa",
        score=score,
        answers=[
            ScorecardAnswer(
                question_id="greeting",
                weight=2,
                passed=score is not None and score > 50,
                points=2 if score and score > 50 else 0,
                reason="no_greeting not matched"
                if score and score > 50
                else "no_greeting matched at 0 s: not found",
            ),
            ScorecardAnswer(
                question_id="verified_identity",
                weight=1,
                passed=None,
                reason="verified_identity was not answered",
            ),
        ],
    )
    return event.model_copy(
        update={
            "categories": matches,
            "scorecards": [card],
            "analyzed_at": event.analyzed_at + timedelta(seconds=analyzed_shift_s),
        }
    )


@pytest.fixture
def api(warehouse: Warehouse) -> Iterator[TestClient]:
    with TestClient(
        create_app(warehouse, InsightsSettings(token=SecretStr(TOKEN)), clock=lambda: NOW)
    ) as client:
        yield client


def _write(writer: SinkWriter, serde: AvroSerde[Any], *events: CallAnalyzed) -> None:
    writer.write([decode_analysis(serde.serialize(e)) for e in events])


def test_categories_and_scorecards_are_stored_with_evidence_and_served(
    warehouse: Warehouse, writer: SinkWriter, serde: AvroSerde[Any], api: TestClient
) -> None:
    events = [
        _call("CA-q-1", "agent-1", 1, ["supervisor_requested", "no_greeting"], 40.0),
        _call("CA-q-2", "agent-1", 1, [], 100.0),
        _call("CA-q-3", "agent-2", 2, ["supervisor_requested"], 80.0),
    ]
    _write(writer, serde, *events)
    _write(writer, serde, *events)  # redelivery: nothing counted twice

    detail = api.get("/calls/CA-q-1", headers=AUTH).json()
    assert [c["name"] for c in detail["categories"]] == ["supervisor_requested", "no_greeting"]
    evidence = detail["categories"][0]["evidence"][0]
    assert evidence["utterance_index"] == 1 and evidence["start_s"] == pytest.approx(3.5)
    assert evidence["text"] == "I want a supervisor"
    assert detail["scorecards"][0]["score"] == pytest.approx(40.0)
    assert detail["scorecards"][0]["answers"][1]["passed"] is None

    listed = api.get("/calls", params={"category": "supervisor_requested"}, headers=AUTH).json()
    assert sorted(i["call_id"] for i in listed["items"]) == ["CA-q-1", "CA-q-3"]

    cats = api.get("/categories", params={"days": 7}, headers=AUTH).json()
    assert cats["calls"] == 3
    totals = {c["category"]: c["calls"] for c in cats["categories"]}
    assert totals == {"supervisor_requested": 2, "no_greeting": 1}
    assert sum(p["calls"] for p in cats["points"]) == 3

    cards = api.get("/scorecards/agents", params={"period": "day"}, headers=AUTH).json()["items"]
    agent1 = next(i for i in cards if i["agent_id"] == "agent-1")
    assert agent1["calls"] == 2 and agent1["avg_score"] == pytest.approx(70.0)
    greeting = next(q for q in agent1["questions"] if q["question_id"] == "greeting")
    assert (
        greeting["applicable"] == 2
        and greeting["passed"] == 1
        and greeting["pass_rate"] == pytest.approx(0.5)
    )
    assert greeting["failing_reasons"] == ["no_greeting matched at 0 s: not found"]
    identity = next(q for q in agent1["questions"] if q["question_id"] == "verified_identity")
    assert identity["applicable"] == 0


def test_reanalysis_replaces_the_categories_and_an_older_one_is_ignored(
    warehouse: Warehouse, writer: SinkWriter, serde: AvroSerde[Any], api: TestClient
) -> None:
    _write(writer, serde, _call("CA-q-9", "agent-3", 1, ["cancellation_threat"], 50.0))
    _write(writer, serde, _call("CA-q-9", "agent-3", 1, [], 90.0, analyzed_shift_s=60))
    _write(writer, serde, _call("CA-q-9", "agent-3", 1, ["long_silence"], 10.0, analyzed_shift_s=-60))
    detail = api.get("/calls/CA-q-9", headers=AUTH).json()
    assert detail["categories"] == [] and detail["scorecards"][0]["score"] == pytest.approx(90.0)
    assert api.get("/categories", headers=AUTH).json()["categories"] == []
    assert api.get("/calls", params={"category": "cancellation_threat"}, headers=AUTH).json()["total"] == 0


def test_quality_endpoints_need_the_token(api: TestClient) -> None:
    for path in ("/categories", "/scorecards/agents", "/calls?category=x"):
        assert api.get(path).status_code == 401
        assert api.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert api.get("/categories", params={"bucket": "month"}, headers=AUTH).status_code == 422
