"""Upload API and bulk import against the real broker: refusals publish nothing, an accepted file
becomes one event whose stored audio is the upload byte for byte, re-runs publish nothing new."""

from __future__ import annotations

import asyncio
import io
import json
import wave
from pathlib import Path

import httpx
import pytest

from callpipe.avro import AvroSerde
from callpipe.models import RecordingReady, RecordingSource, Role
from callpipe.settings import TopicSettings
from callpipe.store import LocalRecordingStore
from callpipe_ingest import bulk_import
from tests.integration.ingest.ingest_it_support import API_TOKEN, read_topic

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


def wav_bytes(seconds: float = 0.5, channels: int = 2, rate: int = 8000, seed: int = 0) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        frames = int(seconds * rate)
        w.writeframes(bytes((i * 7 + seed) % 256 for i in range(frames * channels * 2)))
    return buf.getvalue()


async def upload(
    client: httpx.AsyncClient, data: bytes, meta: dict[str, object], headers: dict[str, str] = AUTH
) -> httpx.Response:
    return await client.post(
        "/recordings",
        files={"file": ("call.wav", data, "audio/wav")},
        data={"metadata": json.dumps(meta)},
        headers=headers,
    )


async def test_upload_api_refuses_bad_requests_and_publishes_a_valid_file_once(
    client: httpx.AsyncClient,
    kafka_bootstrap: str,
    topics: TopicSettings,
    store: LocalRecordingStore,
    serde: AvroSerde[RecordingReady],
) -> None:
    audio = wav_bytes(seed=3)
    meta: dict[str, object] = {
        "call_id": "crm-9001",
        "channel_roles": ["caller", "agent"],
        "queue": "billing",
    }

    no_token = await upload(client, audio, meta, headers={})
    assert no_token.status_code == 401
    assert no_token.headers["WWW-Authenticate"] == "Bearer"
    wrong = await upload(client, audio, meta, headers={"Authorization": "Bearer not-it"})
    assert wrong.status_code == 401
    oversize = await upload(client, wav_bytes(seconds=20), meta)  # 640 kB > the 200 kB limit
    assert oversize.status_code == 413, oversize.text
    not_audio = await upload(client, b"%PDF-1.7\n" + b"\x00" * 4000, meta)
    assert not_audio.status_code == 415, not_audio.text
    assert "not a supported audio format" in not_audio.json()["detail"]

    accepted = await upload(client, audio, meta)
    assert accepted.status_code == 201, accepted.text
    body = accepted.json()
    assert body["status"] == "published"
    assert body["call_id"] == "crm-9001"
    again = await upload(client, audio, meta)
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"
    assert again.json()["recording_id"] == body["recording_id"]
    assert "audio_uri" not in body  # the store's absolute path stays on the server

    [record] = read_topic(kafka_bootstrap, topics.recordings, expect=1)
    assert record.key() == b"crm-9001"
    event = serde.deserialize(record.value() or b"")
    assert event.source is RecordingSource.UPLOAD
    assert event.recording_id == body["recording_id"]
    assert event.audio_sha256 is not None
    assert event.recording_id == f"sha256:{event.audio_sha256}"
    assert event.channel_count == 2
    assert [r.role for r in event.channel_roles] == [Role.CALLER, Role.AGENT]
    assert event.metadata.queue == "billing"
    # What the transcriber will read is exactly what was uploaded.
    assert await store.get(event.audio_uri) == audio


def run_import(folder: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, object]]:
    code = bulk_import.main(["--no-progress", "--json", str(folder)])
    out = capsys.readouterr().out
    summary: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    return code, summary


def test_bulk_import_publishes_once_and_skips_on_rerun(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    kafka_bootstrap: str,
    topics: TopicSettings,
    store: LocalRecordingStore,
    store_dir: Path,
    serde: AvroSerde[RecordingReady],
) -> None:
    folder = tmp_path / "backfill"
    (folder / "2024-01").mkdir(parents=True)
    files = {
        "sidecar": folder / "2024-01" / "a.wav",
        "filename": folder / "call=crm-7__agent=bob__queue=sales__roles=caller-agent.wav",
        "bare": folder / "2024-01" / "c.wav",
    }
    for i, path in enumerate(files.values()):
        path.write_bytes(wav_bytes(seed=10 + i))
    files["sidecar"].with_name("a.wav.json").write_text(
        json.dumps({"call_id": "crm-5", "agent_id": "alice", "started_at": "2024-01-05T10:15:00Z"})
    )
    (folder / "notes.wav").write_bytes(b"meeting notes, not audio" * 20)
    # The CLI is an entry point: it reads its settings from the environment.
    for name, value in {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "TOPIC_RECORDINGS": topics.recordings,
        "TOPIC_CALL_EVENTS": topics.call_events,
        "RECORDING_STORE_URL": store_dir.as_uri(),
        "INGEST_PUBLISH_TIMEOUT_S": "10",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SCHEMA_REGISTRY_URL", raising=False)

    code, first = run_import(folder, capsys)
    assert code == 1  # one file rejected
    assert first["published"] == 3
    assert first["skipped"] == 0
    rejected = first["rejected"]
    assert isinstance(rejected, list)
    [[rejected_path, reason]] = rejected
    assert rejected_path == str(folder / "notes.wav")
    assert "not a supported audio format" in reason

    code, second = run_import(folder, capsys)
    assert code == 1
    assert second["published"] == 0
    assert second["skipped"] == 3

    records = read_topic(kafka_bootstrap, topics.recordings, expect=3)
    events = {(r.key() or b"").decode(): serde.deserialize(r.value() or b"") for r in records}
    assert len(records) == 3
    sha_key = next(k for k in events if k.startswith("sha256-"))
    assert set(events) == {"crm-5", "crm-7", sha_key}
    assert events["crm-5"].metadata.agent_id == "alice"
    assert events["crm-7"].metadata.agent_id == "bob"
    assert events["crm-7"].metadata.queue == "sales"
    assert [r.role for r in events["crm-7"].channel_roles] == [Role.CALLER, Role.AGENT]
    for key, path in zip(["crm-5", "crm-7", sha_key], files.values(), strict=True):
        assert events[key].source is RecordingSource.IMPORT
        assert asyncio.run(store.get(events[key].audio_uri)) == path.read_bytes()
