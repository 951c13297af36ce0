"""What the built-in page needs from the insights API, over seeded chdb data: one filter applied
to every panel and to the call list alike (they count the same calls), the CSV export, and a
call's audio for playback (token-guarded, never cached)."""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from callpipe.avro import AvroSerde
from callpipe.store import LocalRecordingStore
from callpipe_sink.avro_batch import decode_analysis
from callpipe_sink.insights import create_app
from callpipe_sink.insights.queries import CALL_EXPORT_COLUMNS
from callpipe_sink.settings import InsightsSettings
from callpipe_sink.warehouse import Warehouse
from callpipe_sink.writer import SinkWriter
from callpipe_tools.synthetic.analyses import synthetic_analyses
from tests.integration.sink.sink_it_support import SEED_END, TOKEN

AUTH = {"Authorization": f"Bearer {TOKEN}"}
WINDOW_START = (SEED_END - timedelta(days=7)).replace(minute=0, second=0, microsecond=0)


@pytest.fixture
def store(tmp_path: Path) -> LocalRecordingStore:
    return LocalRecordingStore(tmp_path / "recordings")


@pytest.fixture
def seeded(
    warehouse: Warehouse, writer: SinkWriter, serde: AvroSerde[Any], store: LocalRecordingStore
) -> list[dict[str, Any]]:
    events = list(synthetic_analyses(3000, end=SEED_END, days=14, seed=7))
    # One call's archived recording is really in the store; another's is gone from it; one
    # summary starts like a spreadsheet formula.
    events[0]["audio_uri"] = store.uri_for("CA-audio/call.wav")
    (store.root / "CA-audio").mkdir(parents=True)
    (store.root / "CA-audio" / "call.wav").write_bytes(b"RIFF....WAVEfmt fake but stored bytes")
    events[1]["audio_uri"] = store.uri_for("CA-gone/call.wav")
    events[2]["analysis"]["summary"] = '=HYPERLINK("http://evil.example","click")'
    writer.write([decode_analysis(serde.serialize_dict(e)) for e in events])
    return events


@pytest.fixture
def api(warehouse: Warehouse, store: LocalRecordingStore) -> Iterator[TestClient]:
    settings = InsightsSettings(token=SecretStr(TOKEN), max_export_rows=50)
    app = create_app(warehouse, settings, clock=lambda: SEED_END, recordings=store)
    with TestClient(app) as client:
        yield client


def _in_window(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if WINDOW_START <= e["metadata"]["started_at"] < SEED_END]


def _busiest(events: list[dict[str, Any]], key: str) -> str:
    return str(Counter(e["metadata"][key] for e in events).most_common(1)[0][0])


def test_queue_and_days_give_the_same_calls_to_the_headline_and_the_list(
    api: TestClient, seeded: list[dict[str, Any]]
) -> None:
    window = _in_window(seeded)
    queue = _busiest(window, "queue")
    expected = [e for e in window if e["metadata"]["queue"] == queue]
    params: dict[str, str | int] = {"days": 7, "queue": queue}
    headline = api.get("/insights", params=params, headers=AUTH).json()
    listed = api.get("/calls", params={**params, "limit": 1}, headers=AUTH).json()
    assert headline["filtered"] is False  # window and queue: read from the hourly rollups
    assert headline["total_calls"] == listed["total"] == len(expected) > 0
    everything = api.get("/calls", params={"limit": 1}, headers=AUTH).json()
    assert everything["total"] == len(seeded) > listed["total"]  # without days: every call


def test_a_narrowed_filter_applies_to_every_panel_and_the_list(
    api: TestClient, seeded: list[dict[str, Any]]
) -> None:
    window = _in_window(seeded)
    agent = _busiest(window, "agent_id")
    mine = [e for e in window if e["metadata"]["agent_id"] == agent]
    negative = [e for e in mine if e["analysis"]["sentiment"] == "negative"]
    assert 0 < len(negative) < len(mine)
    params: dict[str, str | int] = {"days": 7, "agent_id": agent, "sentiment": "negative"}
    headline = api.get("/insights", params=params, headers=AUTH).json()
    assert headline["filtered"] is True
    assert headline["total_calls"] == len(negative)
    assert {i["intent"]: i["calls"] for i in headline["intents"]} == dict(
        Counter(e["analysis"]["intent"] for e in negative)
    )
    topics = Counter(t for e in negative for t in set(e["analysis"]["key_topics"]))
    top10 = sorted(topics.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    assert [(t["topic"], t["calls"]) for t in headline["topics"]] == top10
    series = api.get("/timeseries", params={**params, "bucket": "day"}, headers=AUTH).json()
    assert sum(p["calls"] for p in series["points"]) == len(negative)
    breakdown = api.get("/breakdown", params=params, headers=AUTH).json()
    assert [(a["agent_id"], a["calls"]) for a in breakdown["agents"]] == [(agent, len(negative))]
    listed = api.get("/calls", params={**params, "limit": 500}, headers=AUTH).json()
    assert listed["total"] == len(negative)
    assert {c["call_id"] for c in listed["items"]} == {e["call_id"] for e in negative}


def test_an_explicit_date_range_replaces_days(api: TestClient, seeded: list[dict[str, Any]]) -> None:
    since, until = SEED_END - timedelta(days=10), SEED_END - timedelta(days=9)
    expected = [e for e in seeded if since <= e["metadata"]["started_at"] < until]
    params = {
        "since": since.isoformat(),
        "until": until.isoformat(),
        "days": 1,
        "intent": expected[0]["analysis"]["intent"],
    }
    narrowed = [e for e in expected if e["analysis"]["intent"] == params["intent"]]
    assert api.get("/insights", params=params, headers=AUTH).json()["total_calls"] == len(narrowed) > 0
    assert api.get("/calls", params=params, headers=AUTH).json()["total"] == len(narrowed)
    bad = api.get("/insights", params={"since": until.isoformat(), "until": since.isoformat()}, headers=AUTH)
    assert bad.status_code == 422 and "since must be before until" in bad.text


def test_csv_export_follows_the_filter_and_defuses_formulas(
    api: TestClient, seeded: list[dict[str, Any]]
) -> None:
    window = _in_window(seeded)
    agent = _busiest(window, "agent_id")
    mine = sorted(
        (e for e in window if e["metadata"]["agent_id"] == agent),
        key=lambda e: (-e["metadata"]["started_at"].timestamp(), e["call_id"]),
    )
    answer = api.get("/calls.csv", params={"days": 7, "agent_id": agent}, headers=AUTH)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert answer.headers["cache-control"] == "no-store"
    rows = list(csv.reader(io.StringIO(answer.text)))
    assert tuple(rows[0]) == CALL_EXPORT_COLUMNS
    assert [r[0] for r in rows[1:]] == [e["call_id"] for e in mine[:50]]
    assert answer.headers["x-total-count"] == str(len(mine))
    assert answer.headers["x-truncated"] == ("true" if len(mine) > 50 else "false")
    started = seeded[2]["metadata"]["started_at"]
    around = {"since": started.isoformat(), "until": (started + timedelta(seconds=1)).isoformat()}
    exported = csv.DictReader(io.StringIO(api.get("/calls.csv", params=around, headers=AUTH).text))
    row = next(r for r in exported if r["call_id"] == seeded[2]["call_id"])
    assert row["summary"] == '\'=HYPERLINK("http://evil.example","click")'
    assert api.get("/calls.csv", headers={}).status_code == 401


def test_call_audio_is_served_with_the_token_only_and_never_cached(
    api: TestClient, seeded: list[dict[str, Any]]
) -> None:
    with_audio, gone = seeded[0]["call_id"], seeded[1]["call_id"]
    answer = api.get(f"/calls/{with_audio}/audio", headers=AUTH)
    assert answer.status_code == 200
    assert answer.content == b"RIFF....WAVEfmt fake but stored bytes"
    assert answer.headers["content-type"] == "audio/wav"
    assert answer.headers["cache-control"] == "no-store"
    assert api.get(f"/calls/{with_audio}/audio").status_code == 401
    missing = api.get(f"/calls/{gone}/audio", headers=AUTH)
    assert missing.status_code == 404 and "no longer in the store" in missing.json()["detail"]
    foreign = api.get(f"/calls/{seeded[5]['call_id']}/audio", headers=AUTH)  # file:///var/recordings/…
    assert foreign.status_code == 404 and "not in this recording store" in foreign.json()["detail"]
    assert api.get("/calls/CA-nobody/audio", headers=AUTH).status_code == 404


def test_without_a_recording_store_audio_says_why(warehouse: Warehouse, seeded: list[dict[str, Any]]) -> None:
    app = create_app(warehouse, InsightsSettings(token=SecretStr(TOKEN)), clock=lambda: SEED_END)
    with TestClient(app) as client:
        answer = client.get(f"/calls/{seeded[0]['call_id']}/audio", headers=AUTH)
    assert answer.status_code == 404 and "no recording store" in answer.json()["detail"]


def _categories(event: dict[str, Any]) -> set[str]:
    return {c["name"] for c in event["categories"]}


def test_the_category_filter_narrows_every_panel_and_the_list(
    api: TestClient, seeded: list[dict[str, Any]]
) -> None:
    window = _in_window(seeded)
    category = Counter(c for e in window for c in _categories(e)).most_common(1)[0][0]
    matched = [e for e in window if category in _categories(e)]
    assert 0 < len(matched) < len(window)
    params: dict[str, str | int] = {"days": 7, "category": category}
    headline = api.get("/insights", params=params, headers=AUTH).json()
    assert headline["filtered"] is True and headline["total_calls"] == len(matched)
    listed = api.get("/calls", params={**params, "limit": 500}, headers=AUTH).json()
    assert {c["call_id"] for c in listed["items"]} == {e["call_id"] for e in matched}
    breakdown = api.get("/breakdown", params=params, headers=AUTH).json()
    assert sum(a["calls"] for a in breakdown["agents"]) == len(matched)
    cats = api.get("/categories", params=params, headers=AUTH).json()
    assert cats["calls"] == len(matched)
    co_occurring = Counter(c for e in matched for c in _categories(e))
    assert {c["category"]: c["calls"] for c in cats["categories"]} == dict(co_occurring)
    assert sum(p["calls"] for p in cats["points"]) == sum(co_occurring.values())
    # What the page asks for: the totals only.
    bare = api.get("/categories", params={**params, "series": "false"}, headers=AUTH).json()
    assert bare["points"] == [] and bare["categories"] == cats["categories"]
    scores = api.get("/scorecards/agents", params={**params, "period": "all"}, headers=AUTH).json()
    assert sum(s["calls"] for s in scores["items"]) == len(matched)
    # A filter the quality table has no column for (sentiment) goes through the calls table.
    negative = [e for e in window if e["analysis"]["sentiment"] == "negative"]
    narrowed = api.get("/categories", params={"days": 7, "sentiment": "negative"}, headers=AUTH).json()
    assert narrowed["calls"] == len(negative)
    assert {c["category"]: c["calls"] for c in narrowed["categories"]} == dict(
        Counter(c for e in negative for c in _categories(e))
    )


def test_an_agents_scorecard_over_the_window_and_per_day(
    api: TestClient, seeded: list[dict[str, Any]]
) -> None:
    window = _in_window(seeded)
    agent = _busiest(window, "agent_id")
    cards = [e["scorecards"][0] for e in window if e["metadata"]["agent_id"] == agent]
    params: dict[str, str | int] = {"days": 7, "agent_id": agent}
    totals = api.get("/scorecards/agents", params={**params, "period": "all"}, headers=AUTH).json()
    [total] = totals["items"]
    assert (total["agent_id"], total["form"], total["scored"]) == (agent, "standard_qa", len(cards))
    mean = sum(c["score"] for c in cards) / len(cards)
    assert total["avg_score"] == pytest.approx(mean, abs=0.06)
    assert total["min_score"] == pytest.approx(min(c["score"] for c in cards), abs=0.06)
    for question in total["questions"]:
        answers = [a for c in cards for a in c["answers"] if a["question_id"] == question["question_id"]]
        passed = sum(1 for a in answers if a["passed"])
        assert (question["applicable"], question["passed"]) == (len(answers), passed)
        assert question["pass_rate"] == pytest.approx(passed / len(answers), abs=0.001)
    assert {q["question_id"] for q in total["questions"]} == {a["question_id"] for a in cards[0]["answers"]}
    daily = api.get("/scorecards/agents", params={**params, "period": "day"}, headers=AUTH).json()["items"]
    assert len(daily) > 1 and sum(d["scored"] for d in daily) == len(cards)  # the trend, day by day
    assert {d["agent_id"] for d in daily} == {agent}
    # The agent table asks for the scores only.
    scores_only = api.get(
        "/scorecards/agents", params={**params, "period": "all", "questions": "false"}, headers=AUTH
    ).json()["items"]
    assert scores_only == [{**total, "questions": []}]
