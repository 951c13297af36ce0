"""Fixtures for ingest unit tests: the app over a tmp-dir store and an in-memory acknowledging sender."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from callpipe.avro import LocalSchemaRegistry
from callpipe.store import LocalRecordingStore
from callpipe_ingest.app import create_app
from callpipe_ingest.settings import IngestSettings
from tests.unit.ingest.ingest_support import BASE, MemorySender, make_settings


@pytest.fixture
def sender() -> MemorySender:
    return MemorySender()


@pytest.fixture
def store(tmp_path: Path) -> LocalRecordingStore:
    return LocalRecordingStore(tmp_path / "recordings")


@pytest.fixture
def settings() -> IngestSettings:
    return make_settings()


async def _ready() -> str | None:
    return None


@pytest.fixture
async def client(
    settings: IngestSettings, sender: MemorySender, store: LocalRecordingStore
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, sender, store, registry=LocalSchemaRegistry.from_directory(), readiness=_ready)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
        yield c
