"""Erasure over every store callpipe owns: ClickHouse (calls, utterances = the search index,
call_events, version tables, the alerts' sample calls), the recording store (local dir and S3 on
moto's server), ingest's markers; the audit record holds no personal data; a redelivery from
Kafka (analyses and alerts) does not bring it back."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from confluent_kafka import Producer
from pydantic import SecretStr

from callpipe.avro import AvroSerde, LocalSchemaRegistry
from callpipe.errors import InvalidInputError
from callpipe.kafka import ensure_topics
from callpipe.models import AlertRaised, CallAnalyzed, RecordingReady
from callpipe.models.common import RecordingSource
from callpipe.runner import dead_letter_headers
from callpipe.settings import KafkaSettings, RunnerSettings
from callpipe.store import LocalRecordingStore, RecordingStore, open_recording_store, redacted_key_of
from callpipe_sink.alerts_store import AlertsConsumer
from callpipe_sink.avro_batch import SchemaResolver, decode_analysis
from callpipe_sink.insights import create_app
from callpipe_sink.lifecycle import CallEventRow, EventTopics, event_row
from callpipe_sink.lifecycle.erasure import Eraser, ErasureRequest
from callpipe_sink.lifecycle.event_rows import party_hashes, phone_hash
from callpipe_sink.lifecycle.events_consumer import CallEventsConsumer, recording_decoder, rows_table
from callpipe_sink.settings import InsightsSettings
from callpipe_sink.warehouse import Warehouse
from callpipe_sink.writer import SinkWriter
from callpipe_tools.examples import example_analysis, example_recording
from tests.integration import kafka_support
from tests.integration.s3_support import moto_bucket, moto_store_settings

READ, ADMIN = "read-token-0123456789abcdef", "admin-token-0123456789abcdef"
PHONE, OTHER_PHONE = "+15557770001", "+15557770002"
TOPICS = EventTopics("callpipe.recordings", "callpipe.transcripts", "callpipe.call-events", "callpipe.dlq")


@pytest.fixture(params=["local", "s3"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[RecordingStore]:
    if request.param == "local":
        s: RecordingStore = LocalRecordingStore(tmp_path / "recordings")
    else:
        endpoint = request.getfixturevalue("s3_endpoint")
        bucket, _ = moto_bucket(endpoint)
        s = open_recording_store(moto_store_settings(endpoint, bucket))
    yield s
    await s.aclose()


_Event = TypeVar("_Event", CallAnalyzed, RecordingReady)


def _uploaded(event: _Event, uri: str, phone: str) -> _Event:
    """``event`` as an upload from ``phone`` whose audio the store holds at ``uri``."""
    return event.model_copy(
        update={
            "audio_uri": uri,
            "source": RecordingSource.UPLOAD,
            "metadata": event.metadata.model_copy(update={"from_number": phone}),
        }
    )


async def _seed(
    store: RecordingStore, writer: SinkWriter, serde: AvroSerde[CallAnalyzed], call_id: str, phone: str
) -> tuple[bytes, list[str]]:
    """A stored call with its audio, ingest marker and status events; returns (message, keys)."""
    audio = f"RIFF-audio-of-{call_id}".encode()
    sha = hashlib.sha256(audio).hexdigest()
    audio_key, marker_key = f"audio/{sha[:2]}/{sha}.wav", f"_ledger/content/{sha}.json"
    uri = await store.put(audio_key, audio)
    await store.put(marker_key, f'{{"call_id": "{call_id}", "audio_uri": "{uri}"}}'.encode())
    event = _uploaded(example_analysis(call_id), uri, phone)
    message = serde.serialize(event)
    writer.write([decode_analysis(message)])
    return message, [audio_key, marker_key]


def _alert_naming(call_ids: list[str], registry: LocalSchemaRegistry) -> bytes:
    """An alert (as the alerts job publishes it) whose sample calls are ``call_ids``."""
    start = example_analysis("any").analyzed_at
    alert = AlertRaised(
        alert_id="a" * 32, rule="intent_spike", kind="spike", severity="warning", subject="billing",
        window_start=start, window_end=start + timedelta(minutes=15), value=12.0, baseline=3.0,
        threshold=9.0, calls_in_window=40, message="intent_spike: billing at 12.00",
        sample_call_ids=call_ids, raised_at=start + timedelta(minutes=16),
    )  # fmt: skip
    return AvroSerde(AlertRaised, registry, "callpipe.alerts-value").serialize(alert)


def _sample_calls(wh: Warehouse) -> list[list[str]]:
    rows = wh.rows("SELECT sample_call_ids FROM {db:Identifier}.alerts FINAL")
    return [list(r[0]) for r in rows]


def _rollup_calls(wh: Warehouse) -> int:
    """Calls counted by the hourly intent rollup, over all hours."""
    rows = wh.rows("SELECT countMerge(calls) FROM {db:Identifier}.calls_hourly")
    return int(rows[0][0])


def _traces(wh: Warehouse, needle: str) -> dict[str, int]:
    """Rows of any table of the database whose text contains ``needle`` (every column)."""
    tables = wh.rows(
        "SELECT name FROM system.tables WHERE database = {db:String} "
        "AND engine NOT IN ('Null', 'MaterializedView', 'View')",  # views store nothing
        {"db": wh.database},
    )
    found: dict[str, int] = {}
    for (table,) in tables:
        n = wh.rows(
            f"SELECT count() FROM {{db:Identifier}}.`{table}` "
            "WHERE position(toString(tuple(*)), {n:String}) > 0",
            {"n": needle},
        )[0][0]
        if n:
            found[str(table)] = int(n)
    return found


async def test_erase_by_phone_leaves_no_trace_and_a_redelivery_stays_erased(
    warehouse: Warehouse, store: RecordingStore, kafka_bootstrap: str, new_topic
) -> None:
    registry = LocalSchemaRegistry.from_directory()
    serde = AvroSerde(CallAnalyzed, registry, "callpipe.analyses-value")
    writer = SinkWriter(warehouse, SchemaResolver(registry))
    gone_id, kept_id = f"CA-erase-{uuid.uuid4().hex[:8]}", f"CA-keep-{uuid.uuid4().hex[:8]}"
    message, gone_keys = await _seed(store, writer, serde, gone_id, PHONE)
    _, kept_keys = await _seed(store, writer, serde, kept_id, OTHER_PHONE)
    at = example_analysis(gone_id).analyzed_at
    warehouse.insert_arrow("call_events", rows_table([CallEventRow(gone_id, "received", "ingest", at)]))
    word = example_analysis(gone_id).utterances[0].text.split()[-1].strip(".,?!").lower()
    # An alert names both calls among its samples: the alert stays, only the erased id goes.
    alerts = AlertsConsumer(warehouse, KafkaSettings(), "callpipe.alerts", registry)
    alert = _alert_naming([gone_id, kept_id], registry)
    await alerts._store(alerts.rows([alert]))
    assert _sample_calls(warehouse) == [[gone_id, kept_id]]

    app = create_app(
        warehouse,
        InsightsSettings(token=SecretStr(READ), admin_token=SecretStr(ADMIN)),
        eraser=Eraser(warehouse, store),
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        read, admin = {"Authorization": f"Bearer {READ}"}, {"Authorization": f"Bearer {ADMIN}"}
        assert (await client.get(f"/search?q={word}", headers=read)).json()["hits"]
        assert _rollup_calls(warehouse) == 2
        body = {"phone": PHONE, "requested_by": "dpo@example.com ticket 42"}
        assert (
            await client.post("/admin/erase", json=body, headers=read)
        ).status_code == 403  # a known token without the admin scope
        dry = (await client.post("/admin/erase", json={**body, "dry_run": True}, headers=admin)).json()
        assert dry["calls"] == 1 and dry["dry_run"] and _traces(warehouse, gone_id)  # nothing removed yet
        answer = await client.post("/admin/erase", json=body, headers=admin)
        assert answer.status_code == 200, answer.text
        report = answer.json()
        assert report["calls"] == 1 and report["rows_deleted"]["calls"] == 1
        assert report["rows_deleted"]["utterances"] > 0 and report["rows_deleted"]["call_events"] >= 3
        assert report["rows_deleted"]["alerts"] == 1  # one alert named the call
        assert (await client.get(f"/calls/{gone_id}", headers=read)).status_code == 404
        assert (await client.get(f"/calls/{gone_id}/status", headers=read)).status_code == 404
        hits = (await client.get(f"/search?q={word}", headers=read)).json()["hits"]
        assert {h["call_id"] for h in hits} == {kept_id}
        assert (await client.get(f"/calls/{kept_id}", headers=read)).status_code == 200

    # No row anywhere names the call or the number, except the tombstone/audit by hash only.
    assert _traces(warehouse, gone_id) == {}
    assert _rollup_calls(warehouse) == 1  # the erased call's hour was recomputed without it
    assert _traces(warehouse, PHONE) == {}
    assert _traces(warehouse, kept_id)  # the other caller's call is untouched
    assert _sample_calls(warehouse) == [[kept_id]]
    for key in gone_keys:
        assert not await store.exists(key), key
    for key in kept_keys:
        assert await store.exists(key), key
    audit = warehouse.dicts("SELECT * FROM {db:Identifier}.erasures")
    assert len(audit) == 1 and audit[0]["requested_by"] == "dpo@example.com ticket 42"
    assert audit[0]["selector"] == "phone" and audit[0]["calls"] == 1
    assert audit[0]["call_hashes"] == [hashlib.sha256(gone_id.encode()).hexdigest()]

    # A redelivery from Kafka (a replay from offset 0) of the erased call does not bring it back.
    topic = new_topic(1)
    kafka_support.produce(kafka_bootstrap, topic, [(gone_id, message)])
    redelivered = kafka_support.read_topic(kafka_bootstrap, topic, 1, grace_s=0.0)
    values = [m.value() for m in redelivered]
    assert None not in values
    writer.write([decode_analysis(v) for v in values if v is not None])
    await alerts._store(alerts.rows([alert]))  # the alerts topic replayed too
    assert _traces(warehouse, gone_id) == {}
    assert _sample_calls(warehouse) == [[kept_id]]


async def _seed_upload(
    store: RecordingStore, call_id: str, *, redacted_copy: bool = False
) -> tuple[str, list[str]]:
    """Audio as ingest stores an upload that gave its own call id: the audio, the content and the
    call markers (and the analyzer's redacted copy when asked); returns (audio URI, keys)."""
    audio = f"RIFF-audio-of-{call_id}".encode()
    sha = hashlib.sha256(audio).hexdigest()
    keys = [f"audio/{sha[:2]}/{sha}.wav", f"_ledger/content/{sha}.json", f"_ledger/call/{call_id}.json"]
    uri = await store.put(keys[0], audio)
    marker = json.dumps({"call_id": call_id, "recording_id": f"sha256:{sha}", "audio_uri": uri}).encode()
    await store.put(keys[1], marker)
    await store.put(keys[2], marker)
    if redacted_copy:
        keys.append(redacted_key_of(keys[0]))
        await store.put(keys[-1], b"RIFF-bleeped")
    return uri, keys


def _received(call_id: str, uri: str, phone: str, registry: LocalSchemaRegistry) -> CallEventRow:
    """The received event the events consumer makes of ingest's RecordingReady."""
    recording = _uploaded(example_recording(call_id), uri, phone).model_copy(
        update={"recording_id": "sha256:x"}
    )
    body = AvroSerde(RecordingReady, registry, f"{TOPICS.recordings}-value").serialize(recording)
    row = event_row(TOPICS, TOPICS.recordings, call_id.encode(), body, None, 1_764_900_000_000,
                    recording_decoder(registry, TOPICS.recordings))  # fmt: skip
    assert row is not None and row.audio_uri == uri
    return row


async def test_calls_that_never_reached_calls_are_found_by_phone_or_id_and_their_audio_goes(
    warehouse: Warehouse, store: RecordingStore
) -> None:
    """Dead-lettered, consent-declined and in-flight calls: no row in calls, yet erased everywhere."""
    registry = LocalSchemaRegistry.from_directory()
    suffix = uuid.uuid4().hex[:8]
    dead_id, declined_id = f"CA-dead-{suffix}", f"CA-declined-{suffix}"
    flight_id, other_id = f"CA-flight-{suffix}", f"CA-other-{suffix}"
    # Dead-lettered at the sink: the analyzer had already written the redacted copy.
    dead_uri, dead_keys = await _seed_upload(store, dead_id, redacted_copy=True)
    other_uri, other_keys = await _seed_upload(store, other_id)
    _, flight_keys = await _seed_upload(store, flight_id)  # published; no event read yet
    at = example_analysis(dead_id).analyzed_at
    declined = {"type": "consent_declined", "call_id": declined_id, "via": "dtmf",
                "from_number": PHONE, "to_number": "+15550000000"}  # fmt: skip
    events = [
        _received(dead_id, dead_uri, PHONE, registry),
        CallEventRow(dead_id, "dead_lettered", "sink", at, "InvalidInputError", "bad row", 3),
        _received(other_id, other_uri, OTHER_PHONE, registry),
        CallEventRow(other_id, "dead_lettered", "transcriber", at, "BadAudioError", "undecodable", 1),
        event_row(TOPICS, TOPICS.call_events, declined_id.encode(), json.dumps(declined).encode(), None, 1),
    ]
    warehouse.insert_arrow("call_events", rows_table([e for e in events if e is not None]))
    eraser = Eraser(warehouse, store)

    dry = await eraser.erase(ErasureRequest("dpo ticket 7", phone=PHONE), dry_run=True)
    assert (dry.calls, dry.rows_deleted["call_events"], dry.rows_deleted["calls"]) == (2, 3, 0)
    assert dry.objects_deleted >= len(dead_keys)  # what it would delete; nothing deleted yet
    for key in dead_keys:
        assert await store.exists(key), key

    by_phone = await eraser.erase(ErasureRequest("dpo ticket 7", phone=PHONE))
    assert by_phone.calls == 2  # the dead-lettered and the declined call, found by the hashed number
    by_id = await eraser.erase(ErasureRequest("dpo ticket 8", call_ids=(flight_id,)))
    assert by_id.calls == 1 and by_id.objects_deleted >= len(flight_keys)

    for key in dead_keys + flight_keys:
        assert not await store.exists(key), key
    for key in other_keys:
        assert await store.exists(key), key
    for needle in (dead_id, declined_id, flight_id, PHONE, phone_hash(PHONE)):
        assert _traces(warehouse, needle) == {}, needle
    assert _traces(warehouse, other_id) and _traces(warehouse, phone_hash(OTHER_PHONE))


async def test_a_call_dead_lettered_on_the_broker_is_erased_by_phone_with_its_audio(
    warehouse: Warehouse, kafka_bootstrap: str, tmp_path: Path
) -> None:
    """The sink's events consumer, given the registry as the sink gives it, notes the received
    recording's audio and hashed numbers from the real topic; erase --phone then finds the call."""
    registry = LocalSchemaRegistry.from_directory()
    store = LocalRecordingStore(tmp_path / "recordings")
    call_id, prefix = f"CA-dlq-{uuid.uuid4().hex[:8]}", f"erase{uuid.uuid4().hex[:8]}"
    topics = EventTopics(
        f"{prefix}.recordings", f"{prefix}.transcripts", f"{prefix}.call-events", f"{prefix}.dlq"
    )
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    ensure_topics(kafka, topics.all(("transcriber",)), partitions=1)
    uri, keys = await _seed_upload(store, call_id)
    recording = _uploaded(example_recording(call_id), uri, PHONE)
    body = AvroSerde(RecordingReady, registry, f"{topics.recordings}-value").serialize(recording)
    kafka_support.produce(kafka_bootstrap, topics.recordings, [(call_id, body)])
    headers = dead_letter_headers(
        [], error=InvalidInputError("audio undecodable"), stage="transcriber", topic=topics.recordings,
        partition=0, offset=0, attempts=1, now_ms=1_764_900_000_000,
    )  # fmt: skip
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    as_sent: list[tuple[str, str | bytes | None]] = list(headers)  # produce() takes the wider type
    producer.produce(f"{topics.dead_letter_prefix}.transcriber", key=call_id, value=body, headers=as_sent)
    assert producer.flush(30) == 0

    runner = RunnerSettings(group_prefix=prefix, commit_interval_s=0.2)
    consumer = CallEventsConsumer(
        warehouse, kafka, topics, runner, dead_letter_stages=("transcriber",), registry=registry
    )
    task = asyncio.create_task(consumer.run())
    try:
        for _ in range(600):
            if consumer.rows_written >= 2:
                break
            await asyncio.sleep(0.1)
    finally:
        consumer.stop()
        await task
    received = warehouse.dicts(
        "SELECT audio_uri, party_hashes FROM {db:Identifier}.call_events FINAL "
        "WHERE call_id = {c:String} AND event = 'received'",
        {"c": call_id},
    )
    assert received == [{"audio_uri": uri, "party_hashes": list(party_hashes(PHONE, "+15559870000"))}]

    report = await Eraser(warehouse, store).erase(ErasureRequest("dpo ticket 9", phone=PHONE))
    assert report.calls == 1 and report.rows_deleted["call_events"] == 2  # received, dead_lettered
    for key in keys:
        assert not await store.exists(key), key
    assert _traces(warehouse, call_id) == {} and _traces(warehouse, phone_hash(PHONE)) == {}
