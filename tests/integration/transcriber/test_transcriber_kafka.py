"""The transcriber stage on the real broker with the real offline engine: RecordingReady in →
TranscriptReady out with roles; corrupt audio and a non-Avro record go to the dead-letter topic
with their reason, and the stage keeps going (the call after them is still transcribed)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from callpipe.avro.serde import AvroSerde
from callpipe.kafka import ensure_topics
from callpipe.models import RecordingReady, Role, TranscriptReady, TranscriptStatus
from callpipe.runner import StageRunner
from callpipe.settings import KafkaSettings, RunnerSettings, TopicSettings
from callpipe.store import LocalRecordingStore
from callpipe_tools.local import delete_topics
from callpipe_transcriber.__main__ import build_ports, build_stage
from callpipe_transcriber.engines.factory import build_engine
from callpipe_transcriber.settings import TranscriberSettings
from tests.integration.transcriber.transcriber_it_support import (
    clip_wav,
    headers_of,
    key_of,
    produce,
    read_topic,
    recording_event,
    value_of,
)

FAST = RunnerSettings(
    max_in_flight=2, max_attempts=2, backoff_initial_s=0.05, backoff_max_s=0.2, commit_interval_s=0.2
)


@pytest.fixture
def dead_letter(kafka_bootstrap: str, topics: TopicSettings) -> Iterator[str]:
    name = topics.dead_letter("transcriber")
    ensure_topics(KafkaSettings(bootstrap_servers=kafka_bootstrap), [name], partitions=1)
    yield name
    delete_topics(kafka_bootstrap, [name])


async def test_recordings_become_transcripts_and_bad_audio_is_dead_lettered(
    kafka_bootstrap: str,
    topics: TopicSettings,
    dead_letter: str,
    store: LocalRecordingStore,
    serdes: tuple[AvroSerde[RecordingReady], AvroSerde[TranscriptReady]],
    tmp_path: Path,
) -> None:
    recordings, transcripts = serdes
    audio = clip_wav(tmp_path / "clip.wav")
    good1 = await store.put("CA-good-1/RE.wav", audio, "audio/wav")
    corrupt = await store.put("CA-corrupt/RE.wav", audio[: len(audio) // 3], "audio/wav")  # cut-off upload
    good2 = await store.put("CA-good-2/RE.wav", audio, "audio/wav")
    produce(
        kafka_bootstrap,
        topics.recordings,
        [
            ("CA-good-1", recordings.serialize(recording_event("CA-good-1", good1))),
            ("CA-corrupt", recordings.serialize(recording_event("CA-corrupt", corrupt))),
            ("CA-not-avro", b"this is not an Avro RecordingReady"),
            ("CA-good-2", recordings.serialize(recording_event("CA-good-2", good2))),
        ],
    )

    settings = TranscriberSettings(model_cache_dir=tmp_path / "models")
    async with httpx.AsyncClient() as http:
        engine = build_engine(settings, http)
        stage = build_stage(topics, recordings, transcripts, build_ports(settings, http, store, engine))
        runner = StageRunner(
            stage,
            kafka=KafkaSettings(bootstrap_servers=kafka_bootstrap),
            runner=FAST,
            dead_letter_topic=dead_letter,
        )
        task = asyncio.create_task(runner.run())
        try:
            out = await asyncio.to_thread(
                read_topic, kafka_bootstrap, topics.transcripts, expect=2, timeout_s=180
            )
            dlq = await asyncio.to_thread(read_topic, kafka_bootstrap, dead_letter, expect=2, timeout_s=30)
            assert not task.done(), task.exception() if task.done() else None  # still consuming
        finally:
            runner.stop()
            await asyncio.wait_for(task, 60)
            await engine.aclose()

    assert sorted(key_of(m) for m in out) == ["CA-good-1", "CA-good-2"]
    for message in out:
        transcript = transcripts.deserialize(value_of(message))
        assert transcript.status is TranscriptStatus.OK
        assert transcript.engine == "faster-whisper"
        assert transcript.audio_uri.startswith("file://")
        assert {u.role for u in transcript.utterances} == {Role.AGENT, Role.CALLER}
        first = transcript.utterances[0]
        assert (first.role, first.channel) == (Role.AGENT, 1) and "calling" in first.text.lower()
        assert any("charged" in u.text.lower() for u in transcript.utterances if u.role is Role.CALLER)

    reasons = {key_of(m): headers_of(m) for m in dlq}
    assert set(reasons) == {"CA-corrupt", "CA-not-avro"}
    assert reasons["CA-corrupt"]["x-callpipe-error-class"] == "InvalidInputError"
    assert "truncated" in reasons["CA-corrupt"]["x-callpipe-error-message"]
    assert reasons["CA-corrupt"]["x-callpipe-attempts"] == "1"  # dead-lettered at once, no retries
    assert reasons["CA-not-avro"]["x-callpipe-stage"] == "transcriber"
    # The original bytes are kept, so the record can be replayed after a fix.
    corrupt_record = next(m for m in dlq if key_of(m) == "CA-corrupt")
    assert recordings.deserialize(value_of(corrupt_record)).audio_uri == corrupt
