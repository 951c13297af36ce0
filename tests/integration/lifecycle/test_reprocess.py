"""Reprocess on real chdb: selection, resumable checkpoint, dry run, drip rate, and the rollups
after a re-analysis replaced stored rows (recomputed, never double-counted)."""

from __future__ import annotations

import asyncio
import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from callpipe.avro import AvroSerde, LocalSchemaRegistry
from callpipe.errors import InvalidInputError
from callpipe.models import CallAnalyzed, RecordingReady, TranscriptReady
from callpipe_sink.avro_batch import SchemaResolver, decode_analysis
from callpipe_sink.lifecycle.reprocess import Checkpoint, Reprocessor, ReprocessRequest
from callpipe_sink.warehouse import Warehouse
from callpipe_sink.writer import SinkWriter
from callpipe_tools.synthetic.analyses import synthetic_analyses

END = datetime(2026, 3, 1, tzinfo=UTC)
SINCE, UNTIL = END - timedelta(days=40), END + timedelta(days=1)


def _writer(wh: Warehouse) -> tuple[SinkWriter, AvroSerde[CallAnalyzed]]:
    registry = LocalSchemaRegistry.from_directory()
    serde = AvroSerde(CallAnalyzed, registry, "callpipe.analyses-value")
    return SinkWriter(wh, SchemaResolver(registry)), serde


def _write(wh: Warehouse, events: list[dict[str, Any]]) -> None:
    writer, serde = _writer(wh)
    writer.write([decode_analysis(serde.serialize_dict(e)) for e in events])


def _rollup_intents(wh: Warehouse) -> dict[str, int]:
    rows = wh.rows("SELECT intent, countMerge(calls) FROM {db:Identifier}.calls_hourly GROUP BY intent")
    return {str(i): int(n) for i, n in rows if n}


def _final_intents(wh: Warehouse) -> dict[str, int]:
    rows = wh.rows("SELECT intent, count() FROM {db:Identifier}.calls FINAL GROUP BY intent")
    return {str(i): int(n) for i, n in rows}


def _reanalysed(events: list[dict[str, Any]], intent: str) -> list[dict[str, Any]]:
    out = []
    for e in events:
        r = copy.deepcopy(e)
        r["analyzed_at"] = r["analyzed_at"] + timedelta(days=60)
        r["analysis"]["intent"] = intent
        r["analysis"]["key_topics"] = ["reprocessed"]
        out.append(r)
    return out


def test_a_re_analysis_replaces_rows_and_the_rollups_are_recomputed_not_double_counted(
    warehouse: Warehouse,
) -> None:
    events = list(synthetic_analyses(200, end=END, seed=3))
    _write(warehouse, events)
    assert _rollup_intents(warehouse) == _final_intents(warehouse)
    # Without the correction the views would count these 80 calls again under "reprocessed".
    _write(warehouse, _reanalysed(events[:80], "reprocessed"))
    assert warehouse.rows("SELECT count() FROM {db:Identifier}.calls FINAL")[0][0] == 200
    intents = _rollup_intents(warehouse)
    assert sum(intents.values()) == 200
    assert intents == _final_intents(warehouse)
    assert intents["reprocessed"] == 80
    topics = warehouse.rows(
        "SELECT countMerge(calls) FROM {db:Identifier}.topics_hourly WHERE topic = 'reprocessed'"
    )
    assert topics[0][0] == 80
    agents = warehouse.rows("SELECT countMerge(calls) FROM {db:Identifier}.agents_hourly")
    assert agents[0][0] == 200
    assert warehouse.rows("SELECT count() FROM {db:Identifier}.rollup_dirty_hours")[0][0] == 0
    # A redelivery of the same re-analysis changes nothing.
    _write(warehouse, _reanalysed(events[:80], "reprocessed"))
    assert _rollup_intents(warehouse) == intents


class Collect:
    def __init__(self, fail_after: int | None = None) -> None:
        self.events: list[RecordingReady | TranscriptReady] = []
        self.fail_after = fail_after

    async def __call__(self, stage: str, call_id: str, event: RecordingReady | TranscriptReady) -> None:
        if self.fail_after is not None and len(self.events) >= self.fail_after:
            raise RuntimeError("broker went away")
        self.events.append(event)


async def test_reprocess_from_analyze_rebuilds_transcripts_and_resumes_after_a_crash(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    events = list(synthetic_analyses(1200, end=END, seed=5))
    _write(warehouse, events)
    queue = events[0]["metadata"]["queue"]
    by_queue = ReprocessRequest(SINCE, UNTIL, "analyze", queue=queue)
    expected = sum(1 for e in events if e["metadata"]["queue"] == queue)
    dry = await Reprocessor(warehouse).run(by_queue, Collect(), dry_run=True)
    assert 0 < dry.selected == expected < 1200 and dry.published == 0

    request = ReprocessRequest(SINCE, UNTIL, "analyze", rate_per_s=1e6)

    checkpoint = Checkpoint(tmp_path / "ckpt.json")
    crashing = Collect(fail_after=510)  # dies inside the second page of 500
    with pytest.raises(RuntimeError):
        await Reprocessor(warehouse).run(request, crashing, checkpoint=checkpoint)
    resumed = Collect()
    report = await Reprocessor(warehouse).run(request, resumed, checkpoint=checkpoint)
    assert report.resumed_after == 500
    ids = [e.call_id for e in crashing.events[:500]] + [e.call_id for e in resumed.events]
    assert sorted(ids) == sorted(e["call_id"] for e in events)
    assert len(set(ids)) == len(ids)

    by_id = {e["call_id"]: e for e in events}
    first = resumed.events[0]
    assert isinstance(first, TranscriptReady)
    stored = by_id[first.call_id]
    assert [u.text for u in first.utterances] == [u["text"] for u in stored["utterances"]]
    assert first.metadata.queue == stored["metadata"]["queue"]
    assert first.metadata.agent_id == stored["metadata"]["agent_id"]

    other = ReprocessRequest(SINCE, UNTIL, "analyze", queue="nope")
    with pytest.raises(InvalidInputError):
        await Reprocessor(warehouse).run(other, Collect(), checkpoint=checkpoint)


async def test_reprocess_from_transcribe_points_at_the_archived_audio_and_drips(warehouse: Warehouse) -> None:
    events = list(synthetic_analyses(30, end=END, seed=9))
    _write(warehouse, events)
    slept: list[float] = []
    now = [0.0]

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds
        await asyncio.sleep(0)  # as a real sleep does: the sends already started get to run

    sent_at: list[float] = []

    class Timed(Collect):
        async def __call__(self, stage: str, call_id: str, event: RecordingReady | TranscriptReady) -> None:
            sent_at.append(now[0])
            await super().__call__(stage, call_id, event)

    sink = Timed()
    request = ReprocessRequest(SINCE, UNTIL, "transcribe", rate_per_s=10.0)
    await Reprocessor(warehouse).run(request, sink, clock=lambda: now[0], sleep=sleep)
    assert len(sink.events) == 30
    # Each record leaves within one interval of its turn (0.1 s apart), not in one burst at the
    # end of the page.
    assert all(0 <= at - i / 10 <= 0.1 + 1e-9 for i, at in enumerate(sent_at)), sent_at
    assert all(isinstance(e, RecordingReady) for e in sink.events)
    assert {e.audio_uri for e in sink.events} == {e["audio_uri"] for e in events}
    # 30 calls at 10/s take 2.9 s of (fake) time: the drip held the pace.
    assert now[0] == pytest.approx(2.9, abs=0.01)


async def test_calls_stored_before_migration_0008_are_corrected_once_the_reprocessor_selected_them(
    warehouse: Warehouse,
) -> None:
    events = list(synthetic_analyses(40, end=END, seed=11))
    _write(warehouse, events)
    # As if stored by a sink before 0008: the rollups counted them, rollup_versions never saw them.
    warehouse.command("TRUNCATE TABLE {db:Identifier}.rollup_versions")
    await Reprocessor(warehouse).run(ReprocessRequest(SINCE, UNTIL, "analyze", rate_per_s=1e6), Collect())
    _write(warehouse, _reanalysed(events, "reprocessed"))
    assert _rollup_intents(warehouse) == {"reprocessed": 40}


async def test_the_admin_endpoint_needs_the_admin_token_counts_and_runs_a_job(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    import asyncio

    import httpx
    from pydantic import SecretStr

    from callpipe_sink.insights import create_app
    from callpipe_sink.insights.admin_routes import ReprocessJobs
    from callpipe_sink.settings import InsightsSettings

    read, admin = "read-token-0123456789abcdef", "admin-token-0123456789abcdef"
    _write(warehouse, list(synthetic_analyses(25, end=END, seed=13)))
    sink = Collect()
    jobs = ReprocessJobs(Reprocessor(warehouse), sink, tmp_path / "ckpt")
    settings = InsightsSettings(token=SecretStr(read), admin_token=SecretStr(admin))
    app = create_app(warehouse, settings, reprocess=jobs)
    body = {"since": SINCE.isoformat(), "until": UNTIL.isoformat(), "from": "analyze", "rate": 1000}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        as_reader = await client.post(
            "/admin/reprocess", json=body, headers={"Authorization": f"Bearer {read}"}
        )
        assert as_reader.status_code == 403  # a known token without the admin scope
        auth = {"Authorization": f"Bearer {admin}"}
        dry = await client.post("/admin/reprocess", json=body | {"dry_run": True}, headers=auth)
        assert dry.status_code == 202 and dry.json()["selected"] == 25 and sink.events == []
        bad = await client.post("/admin/reprocess", json=body | {"until": SINCE.isoformat()}, headers=auth)
        assert bad.status_code == 422
        started = await client.post("/admin/reprocess", json=body, headers=auth)
        job_id = started.json()["job_id"]
        for _ in range(200):
            job = (await client.get(f"/admin/reprocess/{job_id}", headers=auth)).json()
            if job["state"] != "running":
                break
            await asyncio.sleep(0.05)
    assert job["state"] == "finished" and job["done"] == 25 and job["report"]["published"] == 25
    assert len(sink.events) == 25
    assert not list((tmp_path / "ckpt").glob("*.json"))  # a finished job leaves no checkpoint
