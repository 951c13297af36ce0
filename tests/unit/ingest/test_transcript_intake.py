"""POST /transcripts and ``callpipe import --transcripts``: parsed, published as TranscriptReady on
the transcripts topic once per content, bad transcripts refused with a reason before anything."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from callpipe.avro import AvroSerde, LocalSchemaRegistry
from callpipe.models import RecordingSource, Role, TranscriptReady
from callpipe.settings import TopicSettings
from callpipe.store import LocalRecordingStore
from callpipe_ingest.bulk_import import import_paths
from callpipe_ingest.intake import RecordingMetadata
from callpipe_ingest.ledger import Ledger, LedgerEntry
from callpipe_ingest.transcript_intake import TranscriptPublisher, ingest_transcript
from tests.unit.ingest.ingest_support import API_TOKEN, MemorySender
from tests.unit.transcriber.deepgram_bodies import MULTICHANNEL
from tests.unit.transcripts.transcript_bodies import AWS_DIARIZED, TEXT

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
TOPICS = TopicSettings()
REGISTRY = LocalSchemaRegistry.from_directory()
SERDE = AvroSerde(TranscriptReady, REGISTRY, f"{TOPICS.transcripts}-value")


async def post(
    client: httpx.AsyncClient, data: bytes, headers: dict[str, str] = AUTH, **fields: str
) -> httpx.Response:
    return await client.post(
        "/transcripts", files={"file": ("t", data, "application/octet-stream")}, data=fields, headers=headers
    )


async def test_transcript_is_published_once_on_the_transcripts_topic(
    client: httpx.AsyncClient, sender: MemorySender
) -> None:
    meta = json.dumps({"call_id": "crm-77", "agent_id": "alice", "queue": "billing"})
    first = await post(client, TEXT.encode(), metadata=meta)
    assert first.status_code == 201, first.text
    assert first.json()["status"] == "published" and first.json()["call_id"] == "crm-77"
    [(topic, key, value)] = sender.records
    assert topic == TOPICS.transcripts and key == "crm-77"
    event = SERDE.deserialize(value)
    assert [u.role for u in event.utterances] == [Role.AGENT, Role.CALLER, Role.AGENT, Role.CALLER]
    assert event.metadata.agent_id == "alice" and event.source is RecordingSource.UPLOAD
    again = await post(client, TEXT.encode(), metadata=meta)
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert again.json()["recording_id"] == first.json()["recording_id"]
    assert len(sender.records) == 1


async def test_vendor_json_with_speaker_roles(client: httpx.AsyncClient, sender: MemorySender) -> None:
    roles = json.dumps({"spk_0": "caller", "spk_1": "agent"})
    response = await post(
        client, json.dumps(AWS_DIARIZED).encode(), speaker_roles=roles, format="aws-transcribe"
    )
    assert response.status_code == 201, response.text
    event = SERDE.deserialize(sender.records[0][2])
    assert [u.role for u in event.utterances] == [Role.CALLER, Role.AGENT] and not event.roles_low_confidence
    deepgram = await post(client, json.dumps(MULTICHANNEL).encode())
    assert deepgram.status_code == 201 and SERDE.deserialize(sender.records[1][2]).engine == "deepgram"


@pytest.mark.parametrize(
    ("data", "fields", "status", "reason"),
    [
        (b"just some notes", {}, 422, "expected 'Agent"),
        (b'{"results": {', {}, 422, "not valid JSON"),
        (json.dumps(AWS_DIARIZED).encode(), {"format": "deepgram"}, 422, "'deepgram' was named"),
        (TEXT.encode(), {"format": "srt"}, 422, "format must be one of"),
        (TEXT.encode(), {"metadata": '{"call_id": "bad id!"}'}, 422, "invalid metadata"),
        (TEXT.encode(), {"speaker_roles": "[1, 2]"}, 422, "speaker_roles must be"),
    ],
)
async def test_bad_transcripts_are_4xx_with_a_reason_and_nothing_published(
    client: httpx.AsyncClient,
    sender: MemorySender,
    data: bytes,
    fields: dict[str, str],
    status: int,
    reason: str,
) -> None:
    response = await post(client, data, AUTH, **fields)
    assert response.status_code == status and reason in response.json()["detail"]
    assert sender.records == []


async def test_same_token_as_uploads_and_503_when_the_broker_is_down(
    client: httpx.AsyncClient, sender: MemorySender
) -> None:
    assert (await post(client, TEXT.encode(), headers={})).status_code == 401
    assert (await post(client, TEXT.encode(), headers={"Authorization": "Bearer nope"})).status_code == 401
    assert (await client.post("/transcripts", data={"x": "y"}, headers=AUTH)).status_code == 400
    sender.down = True
    down = await post(client, TEXT.encode())
    assert down.status_code == 503 and "Retry-After" in down.headers
    sender.down = False
    assert (await post(client, TEXT.encode())).status_code == 201  # nothing was marked: the retry publishes


async def test_import_transcripts_folder_with_sidecar_rejects_and_rerun(
    tmp_path: Path, sender: MemorySender, store: LocalRecordingStore
) -> None:
    folder = tmp_path / "transcripts"
    folder.mkdir()
    (folder / "a.txt").write_text(TEXT)
    (folder / "b.json").write_text(json.dumps(AWS_DIARIZED))
    (folder / "b.json.json").write_text(json.dumps({"call_id": "legacy-b", "queue": "retention"}))
    (folder / "notes.txt").write_text("call back tomorrow\n")
    (folder / "audio.wav").write_bytes(b"RIFF")  # not a transcript suffix: not picked up
    publisher = TranscriptPublisher(sender, REGISTRY, TOPICS, Ledger(store))
    first = await import_paths([folder], publisher, store, progress=False)
    assert sorted(p.name for p in first.published) == ["a.txt", "b.json"]
    assert [p.name for p, _ in first.rejected] == ["notes.txt"] and "Agent" in first.rejected[0][1]
    events = {e.call_id: e for e in (SERDE.deserialize(v) for _, _, v in sender.records)}
    assert (
        events["legacy-b"].metadata.queue == "retention"
        and events["legacy-b"].source is RecordingSource.IMPORT
    )
    assert {t for t, _, _ in sender.records} == {TOPICS.transcripts}
    second = await import_paths([folder], publisher, store, progress=False)
    assert (len(second.published), len(second.skipped), len(second.rejected)) == (0, 2, 1)
    assert len(sender.records) == 2


class _MarkerFails(Ledger):
    """A ledger whose marker write fails (the recording store refuses the write)."""

    async def put(self, namespace: str, ident: str, entry: LedgerEntry) -> None:
        raise OSError("store refused the marker (test)")


async def test_a_marker_that_cannot_be_written_after_the_ack_still_answers_published(
    sender: MemorySender, store: LocalRecordingStore, caplog: pytest.LogCaptureFixture
) -> None:
    """Was: the transcript path raised after the broker had the event, so the client heard an error,
    retried, and published the same transcript again; the audio path already answered "accepted"."""
    publisher = TranscriptPublisher(sender, REGISTRY, TOPICS, _MarkerFails(store))
    outcome = await ingest_transcript(publisher, TEXT.encode(), RecordingMetadata(), RecordingSource.UPLOAD)
    assert outcome.published and len(sender.on(TOPICS.transcripts)) == 1
    assert (outcome.entry.topic, outcome.entry.offset) == (TOPICS.transcripts, 0)
    assert any("ledger marker not written" in r.getMessage() for r in caplog.records)
