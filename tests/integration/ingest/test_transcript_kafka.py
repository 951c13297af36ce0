"""POST /transcripts against the real broker: a refused transcript publishes nothing, an accepted
one is one TranscriptReady on the transcripts topic (no audio, no speech-to-text), a resend none."""

from __future__ import annotations

import asyncio
import json

import httpx

from callpipe.avro import AvroSerde, LocalSchemaRegistry
from callpipe.models import Role, TranscriptReady
from callpipe.settings import TopicSettings
from tests.integration.ingest.ingest_it_support import API_TOKEN, read_topic
from tests.unit.transcriber.deepgram_bodies import MULTICHANNEL

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


async def test_transcript_becomes_one_transcript_ready_on_the_broker(
    client: httpx.AsyncClient, kafka_bootstrap: str, topics: TopicSettings
) -> None:
    async def post(data: bytes) -> httpx.Response:
        return await client.post(
            "/transcripts",
            files={"file": ("dg.json", data, "application/json")},
            data={"metadata": json.dumps({"call_id": "dg-1", "queue": "support"})},
            headers=AUTH,
        )

    refused = await post(b'{"results": {"channels": "nope"}}')
    assert refused.status_code == 422, refused.text
    body = json.dumps(MULTICHANNEL).encode()
    assert (await post(body)).status_code == 201
    assert (await post(body)).status_code == 200
    records = await asyncio.to_thread(read_topic, kafka_bootstrap, topics.transcripts, expect=1)
    assert len(records) == 1
    serde = AvroSerde(TranscriptReady, LocalSchemaRegistry.from_directory(), f"{topics.transcripts}-value")
    value = records[0].value()
    assert value is not None
    event = serde.deserialize(value)
    assert records[0].key() == b"dg-1" and event.metadata.queue == "support"
    assert [u.role for u in event.utterances] == [Role.AGENT, Role.CALLER] and event.engine == "deepgram"
    assert event.audio_uri == ""
