"""Upload API (auth, size, sniffing, byte-exact storage, idempotency) and the bulk import."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from callpipe.avro import AvroSerde, LocalSchemaRegistry
from callpipe.models import RecordingReady, RecordingSource, Role
from callpipe.settings import TopicSettings
from callpipe.store import LocalRecordingStore
from callpipe_ingest.bulk_import import import_paths
from callpipe_ingest.ledger import Ledger
from callpipe_ingest.publisher import Publisher
from tests.unit.ingest.ingest_support import API_TOKEN, MemorySender, wav_bytes

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
TOPICS = TopicSettings()
SERDE = AvroSerde(RecordingReady, LocalSchemaRegistry.from_directory(), f"{TOPICS.recordings}-value")


async def post(client: httpx.AsyncClient, data: bytes, meta: Mapping[str, Any] | None = None, headers=AUTH):
    return await client.post(
        "/recordings",
        files={"file": ("call.bin", data, "application/octet-stream")},
        data={"metadata": json.dumps(meta or {})},
        headers=headers,
    )


async def test_no_or_wrong_token_is_401(client: httpx.AsyncClient, sender: MemorySender) -> None:
    assert (await post(client, wav_bytes(), headers={})).status_code == 401
    assert (await post(client, wav_bytes(), headers={"Authorization": "Bearer nope"})).status_code == 401
    assert sender.records == []


async def test_oversize_is_413(client: httpx.AsyncClient, sender: MemorySender) -> None:
    big = wav_bytes(seconds=20)  # 640 kB > the 200 kB limit of the test settings
    response = await post(client, big)
    assert response.status_code == 413
    assert sender.records == []


@pytest.mark.parametrize(
    "data", [b"%PDF-1.7 not audio" * 10, b"RIFF\x00\x00\x00\x00AVI LIST", b"\xff\xfb" * 4]
)
async def test_non_audio_is_415(client: httpx.AsyncClient, sender: MemorySender, data: bytes) -> None:
    response = await post(client, data)
    assert response.status_code == 415, response.text
    assert sender.records == []


async def test_valid_upload_stores_bytes_exactly_and_publishes_once(
    client: httpx.AsyncClient, sender: MemorySender, store: LocalRecordingStore
) -> None:
    audio = wav_bytes()
    meta = {
        "call_id": "crm-42",
        "channel_roles": ["caller", "agent"],
        "agent_id": "alice",
        "queue": "billing",
    }
    first = await post(client, audio, meta)
    assert first.status_code == 201, first.text
    again = await post(client, audio, meta)
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"
    assert again.json()["call_id"] == first.json()["call_id"] == "crm-42"
    [(topic, key, value)] = sender.records
    event = SERDE.deserialize(value)
    assert topic == TOPICS.recordings
    assert key == "crm-42"
    assert event.source is RecordingSource.UPLOAD
    assert event.channel_count == 2
    assert [r.role for r in event.channel_roles] == [Role.CALLER, Role.AGENT]
    assert event.metadata.agent_id == "alice"
    assert event.duration_s == pytest.approx(0.5)
    assert await store.get(event.audio_uri) == audio


async def test_invalid_metadata_is_422(client: httpx.AsyncClient, sender: MemorySender) -> None:
    assert (
        await post(client, wav_bytes(), {"channel_roles": ["caller", "agent", "agent"]})
    ).status_code == 422
    assert (await post(client, wav_bytes(), {"unknown_field": 1})).status_code == 422
    assert sender.records == []


async def test_audio_url_is_fetched_through_the_injected_transport(sender: MemorySender, store) -> None:
    from callpipe_ingest.app import create_app
    from tests.unit.ingest.ingest_support import BASE, make_settings

    audio = wav_bytes(seed=3)

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/a.wav":
            return httpx.Response(200, content=audio)
        return httpx.Response(404)

    async def ready() -> str | None:
        return None

    fetcher = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    app = create_app(make_settings(), sender, store, registry=LocalSchemaRegistry.from_directory(),
                     http_client=fetcher, readiness=ready)  # fmt: skip
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client:
        ok = await client.post(
            "/recordings", data={"audio_url": "https://files.example.com/a.wav"}, headers=AUTH
        )
        missing = await client.post(
            "/recordings", data={"audio_url": "https://files.example.com/b"}, headers=AUTH
        )
        private = await client.post("/recordings", data={"audio_url": "http://127.0.0.1/a.wav"}, headers=AUTH)
    assert ok.status_code == 201, ok.text
    assert missing.status_code == 422
    assert private.status_code == 422
    assert await store.get(SERDE.deserialize(sender.records[0][2]).audio_uri) == audio
    await fetcher.aclose()


async def test_bulk_import_sidecar_filename_rejects_and_rerun(
    tmp_path: Path, sender: MemorySender, store: LocalRecordingStore
) -> None:
    folder = tmp_path / "backfill"
    folder.mkdir()
    (folder / "a.wav").write_bytes(wav_bytes(seed=1))
    (folder / "a.wav.json").write_text(json.dumps({"call_id": "legacy-1", "agent_id": "bob"}))
    (folder / "call=legacy-2__agent=carol__roles=agent-caller.wav").write_bytes(wav_bytes(seed=2))
    (folder / "broken.mp3").write_bytes(b"this is not audio at all" * 5)
    publisher = Publisher(sender, SERDE, TOPICS, Ledger(store))

    first = await import_paths([folder], publisher, store, progress=False)
    assert len(first.published) == 2
    assert [p.name for p, _ in first.rejected] == ["broken.mp3"]
    events = {e.call_id: e for e in (SERDE.deserialize(v) for _, _, v in sender.records)}
    assert events["legacy-1"].metadata.agent_id == "bob"
    assert events["legacy-2"].metadata.agent_id == "carol"
    assert [r.role for r in events["legacy-2"].channel_roles] == [Role.AGENT, Role.CALLER]
    assert all(e.source is RecordingSource.IMPORT for e in events.values())

    second = await import_paths([folder], publisher, store, progress=False)
    assert (len(second.published), len(second.skipped), len(second.rejected)) == (0, 2, 1)
    assert len(sender.records) == 2
