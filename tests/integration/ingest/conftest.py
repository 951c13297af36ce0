"""Fixtures for ingest against the real broker: fresh topics, the real EventProducer, the app.

The app is the production one (``create_app``) with the real producer and the real broker
readiness probe; only the schema registry is the local one built from schemas/ (the default
when no registry URL is configured, as in a keyless install).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from callpipe.avro import AvroSerde, LocalSchemaRegistry
from callpipe.kafka import EventProducer
from callpipe.models import RecordingReady
from callpipe.settings import KafkaSettings, RecordingStoreSettings, SchemaRegistrySettings, TopicSettings
from callpipe.store import LocalRecordingStore
from callpipe_ingest.app import create_app
from callpipe_ingest.settings import IngestSettings
from callpipe_tools.local import TopicFactory
from tests.integration.ingest.ingest_it_support import API_TOKEN, AUTH_TOKEN, BASE, PUBLISH_TIMEOUT_S


@pytest.fixture
def serde(topics: TopicSettings) -> AvroSerde[RecordingReady]:
    return AvroSerde(RecordingReady, LocalSchemaRegistry.from_directory(), f"{topics.recordings}-value")


@pytest.fixture
def topics(new_topic: TopicFactory) -> TopicSettings:
    return TopicSettings(
        recordings=new_topic(3, prefix="ingest-rec"),
        call_events=new_topic(prefix="ingest-ev"),
        transcripts=new_topic(prefix="ingest-tr"),
    )


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    return tmp_path / "recordings"


@pytest.fixture
def store(store_dir: Path) -> LocalRecordingStore:
    return LocalRecordingStore(store_dir)


@pytest.fixture
def ingest_settings(kafka_bootstrap: str, topics: TopicSettings, store_dir: Path) -> IngestSettings:
    return IngestSettings(
        public_base_url=BASE,
        twilio_auth_token=SecretStr(AUTH_TOKEN),
        api_token=SecretStr(API_TOKEN),
        max_upload_bytes=200_000,
        publish_timeout_s=PUBLISH_TIMEOUT_S,
        retry_after_s=7,
        kafka=KafkaSettings(bootstrap_servers=kafka_bootstrap),
        topics=topics,
        schema_registry=SchemaRegistrySettings(url=None),
        recording_store=RecordingStoreSettings(url=store_dir.as_uri()),
    )


@pytest.fixture
def producer(ingest_settings: IngestSettings) -> Iterator[EventProducer]:
    # Same wiring as __main__: the producer gives up when the app would answer 503 anyway.
    producer = EventProducer(ingest_settings.kafka, delivery_timeout_s=ingest_settings.delivery_timeout_s)
    yield producer
    producer.close(timeout_s=10)


@pytest.fixture
async def client(
    ingest_settings: IngestSettings, producer: EventProducer, store: LocalRecordingStore
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(ingest_settings, producer, store)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE, timeout=60) as c,
    ):
        yield c
