"""Twilio recording-status callbacks against the real broker: exactly one event per recording,
503 + Retry-After while the broker is down, and the retried callback landing once afterwards."""

from __future__ import annotations

import asyncio
import time

import httpx

from callpipe.avro import AvroSerde
from callpipe.models import RecordingReady, RecordingSource, Role
from callpipe.settings import TopicSettings
from callpipe.store import LocalRecordingStore
from callpipe_ingest.settings import IngestSettings
from callpipe_tools.local import LocalKafka
from tests.integration.ingest.ingest_it_support import (
    PUBLISH_TIMEOUT_S,
    completed_callback,
    new_sids,
    read_topic,
    signed,
)

PATH = "/twilio/recording-status"


async def post_callback(client: httpx.AsyncClient, params: dict[str, str]) -> httpx.Response:
    return await client.post(PATH, data=params, headers=signed(PATH, params))


async def test_duplicate_callbacks_put_exactly_one_event_on_the_topic(
    client: httpx.AsyncClient,
    kafka_bootstrap: str,
    topics: TopicSettings,
    serde: AvroSerde[RecordingReady],
) -> None:
    call_sid, rec_sid = new_sids()
    params = completed_callback(call_sid, rec_sid)
    first = await post_callback(client, params)
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "published"
    # Twilio retries: some after the first answer, some while another copy is still in flight.
    later = [await post_callback(client, params) for _ in range(2)]
    burst = await asyncio.gather(*(post_callback(client, params) for _ in range(5)))
    for response in [*later, *burst]:
        assert response.status_code == 200, response.text
        assert response.json() == {"status": "duplicate", "call_id": call_sid, "recording_id": rec_sid}
    # A different recording of another call is not mistaken for a duplicate.
    other_call, other_rec = new_sids()
    other = await post_callback(client, completed_callback(other_call, other_rec))
    assert other.json()["status"] == "published"

    records = read_topic(kafka_bootstrap, topics.recordings, expect=2)
    by_key: dict[str, list[RecordingReady]] = {}
    for record in records:
        key = record.key()
        assert key is not None
        by_key.setdefault(key.decode(), []).append(serde.deserialize(record.value() or b""))
    assert {k: len(v) for k, v in by_key.items()} == {call_sid: 1, other_call: 1}
    [event] = by_key[call_sid]
    assert event.recording_id == rec_sid
    assert event.source is RecordingSource.TWILIO
    assert event.audio_uri == params["RecordingUrl"]
    assert event.duration_s == 42.0
    assert event.channel_count == 2
    assert [(r.channel, r.role) for r in event.channel_roles] == [(0, Role.CALLER), (1, Role.AGENT)]


async def test_invalid_and_unsigned_callbacks_publish_nothing(
    client: httpx.AsyncClient, kafka_bootstrap: str, topics: TopicSettings
) -> None:
    call_sid, rec_sid = new_sids()
    params = completed_callback(call_sid, rec_sid)
    assert (await client.post(PATH, data=params)).status_code == 403
    tampered = {**params, "RecordingDuration": "4200"}
    assert (await client.post(PATH, data=tampered, headers=signed(PATH, params))).status_code == 403
    in_progress = {**params, "RecordingStatus": "in-progress"}
    assert (await post_callback(client, in_progress)).json()["status"] == "ignored"
    bad_url = {**params, "RecordingUrl": "https://evil.example.com/a.wav"}
    assert (await post_callback(client, bad_url)).status_code == 400
    assert read_topic(kafka_bootstrap, topics.recordings, expect=0) == []


async def test_broker_down_answers_503_and_the_retry_after_restart_lands_once(
    client: httpx.AsyncClient,
    kafka_broker: LocalKafka,
    kafka_bootstrap: str,
    topics: TopicSettings,
    store: LocalRecordingStore,
    serde: AvroSerde[RecordingReady],
    ingest_settings: IngestSettings,
) -> None:
    # One event while the broker is up: the producer is connected and has its producer id.
    warm_call, warm_rec = new_sids()
    assert (await post_callback(client, completed_callback(warm_call, warm_rec))).status_code == 200

    call_sid, rec_sid = new_sids()
    params = completed_callback(call_sid, rec_sid)
    kafka_broker.stop()
    started = time.monotonic()
    down = await post_callback(client, params)
    waited = time.monotonic() - started
    assert down.status_code == 503, down.text
    assert down.headers["Retry-After"] == "7"
    assert "broker" in down.json()["detail"] or "delivery" in down.json()["detail"]
    # Answered when the producer gave up: neither at once nor hanging until Twilio gives up.
    assert ingest_settings.delivery_timeout_s - 0.5 <= waited < PUBLISH_TIMEOUT_S + 5, waited
    # Nothing marked as published, so the retry is not mistaken for a duplicate.
    assert not await store.exists(f"_ledger/twilio/{rec_sid}.json")

    kafka_broker.start()
    # Twilio retries until it gets a 2xx. Right after the restart the producer may still be
    # reconnecting and answer 503 again; that is the contract too (nothing accepted silently).
    statuses: list[int] = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        retry = await post_callback(client, params)
        statuses.append(retry.status_code)
        if retry.status_code == 200:
            assert retry.json()["status"] == "published", retry.text
            break
        assert retry.status_code == 503, retry.text
        await asyncio.sleep(1)
    assert statuses[-1] == 200, statuses
    again = await post_callback(client, params)
    assert again.json()["status"] == "duplicate"
    assert await store.exists(f"_ledger/twilio/{rec_sid}.json")

    records = read_topic(kafka_bootstrap, topics.recordings, expect=2, timeout_s=60)
    keys = sorted((r.key() or b"").decode() for r in records)
    assert keys == sorted([warm_call, call_sid]), keys
    [event] = [serde.deserialize(r.value() or b"") for r in records if r.key() == call_sid.encode()]
    assert event.recording_id == rec_sid
