"""Fixtures for transcriber integration tests: fresh topics, a local recording store, serdes."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from callpipe.avro import registry_from_settings
from callpipe.avro.serde import AvroSerde
from callpipe.models import RecordingReady, TranscriptReady
from callpipe.settings import SchemaRegistrySettings, TopicSettings
from callpipe.store import LocalRecordingStore
from callpipe_tools.local import TopicFactory


@pytest.fixture
def topics(new_topic: TopicFactory) -> TopicSettings:
    """Fresh input/output topics; the dead-letter topic is left for the stage to create."""
    return TopicSettings(
        recordings=new_topic(1, prefix="tx-rec"),
        transcripts=new_topic(1, prefix="tx-out"),
        dead_letter_prefix=f"tx-dlq-{uuid.uuid4().hex[:8]}",
    )


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    path = tmp_path / "recordings"
    path.mkdir()
    return path


@pytest.fixture
def store(store_dir: Path) -> LocalRecordingStore:
    return LocalRecordingStore(store_dir)


@pytest.fixture
def serdes(topics: TopicSettings) -> tuple[AvroSerde[RecordingReady], AvroSerde[TranscriptReady]]:
    # No registry URL: the local registry from schemas/, the same one the service builds.
    registry = registry_from_settings(SchemaRegistrySettings(url=None))
    return (
        AvroSerde(RecordingReady, registry, f"{topics.recordings}-value"),
        AvroSerde(TranscriptReady, registry, f"{topics.transcripts}-value"),
    )
