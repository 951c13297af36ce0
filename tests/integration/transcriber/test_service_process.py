"""The service as deployed: ``python -m callpipe_transcriber`` with settings from the environment
(local schema registry, file:// recording store, offline engine) transcribes one recording from
the broker, creates its dead-letter topic, and exits 0 on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from callpipe.avro.serde import AvroSerde
from callpipe.models import RecordingReady, Role, TranscriptReady, TranscriptStatus
from callpipe.settings import TopicSettings
from callpipe.store import LocalRecordingStore
from callpipe_tools.local import delete_topics
from tests.integration.transcriber.transcriber_it_support import (
    clip_wav,
    key_of,
    produce,
    read_topic,
    recording_event,
    value_of,
)


@pytest.fixture
def service(
    kafka_bootstrap: str, topics: TopicSettings, store_dir: Path, tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "TOPIC_RECORDINGS": topics.recordings,
        "TOPIC_TRANSCRIPTS": topics.transcripts,
        "TOPIC_DEAD_LETTER_PREFIX": topics.dead_letter_prefix,
        "RECORDING_STORE_URL": store_dir.as_uri(),
        "TRANSCRIBER_MODEL_CACHE_DIR": str(tmp_path / "models"),
        "RUNNER_COMMIT_INTERVAL_S": "0.5",
    }
    env.pop("SCHEMA_REGISTRY_URL", None)
    log = tmp_path / "transcriber.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "callpipe_transcriber"], env=env, stdout=out, stderr=out
        )
    try:
        yield proc, log
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        delete_topics(kafka_bootstrap, [topics.dead_letter("transcriber")])


def test_service_transcribes_an_event_and_stops_cleanly(
    kafka_bootstrap: str,
    topics: TopicSettings,
    store: LocalRecordingStore,
    serdes: tuple[AvroSerde[RecordingReady], AvroSerde[TranscriptReady]],
    service: tuple[subprocess.Popen[bytes], Path],
    tmp_path: Path,
) -> None:
    proc, log = service
    recordings, transcripts = serdes
    uri = asyncio.run(store.put("CA-proc/RE.wav", clip_wav(tmp_path / "clip.wav"), "audio/wav"))
    produce(
        kafka_bootstrap,
        topics.recordings,
        [("CA-proc", recordings.serialize(recording_event("CA-proc", uri)))],
    )

    out = read_topic(kafka_bootstrap, topics.transcripts, expect=1, timeout_s=240)
    assert proc.poll() is None, log.read_text()[-3000:]
    assert len(out) == 1, log.read_text()[-3000:]
    transcript = transcripts.deserialize(value_of(out[0]))
    assert key_of(out[0]) == "CA-proc"
    assert transcript.status is TranscriptStatus.OK
    assert {u.role for u in transcript.utterances} == {Role.AGENT, Role.CALLER}
    assert transcript.utterances[0].role is Role.AGENT
    # The service created its dead-letter topic at startup.
    metadata = AdminClient({"bootstrap.servers": kafka_bootstrap}).list_topics(timeout=10)
    assert topics.dead_letter("transcriber") in metadata.topics

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 0, log.read_text()[-3000:]
    lines = log.read_text()
    assert '"msg": "transcribed"' in lines and '"call_id": "CA-proc"' in lines
    assert '"stage runner stopped"' in lines
