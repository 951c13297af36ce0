"""Fixtures for transcriber stage tests (helpers in transcriber_unit_support.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from callpipe.store import LocalRecordingStore
from callpipe_transcriber.fetch import AudioFetcher, FetchOptions
from callpipe_transcriber.stage import TranscriberPorts
from tests.unit.transcriber.transcriber_unit_support import Clip, load_clip


@pytest.fixture(scope="session")
def clip() -> Clip:
    return load_clip()


@pytest.fixture
def store(tmp_path: Path) -> LocalRecordingStore:
    return LocalRecordingStore(tmp_path / "store")


PortsFactory = Callable[..., TranscriberPorts]


@pytest.fixture
def make_ports(store: LocalRecordingStore) -> Iterator[PortsFactory]:
    clients: list[httpx.AsyncClient] = []

    def factory(
        engine: object, transport: httpx.MockTransport | None = None, **extra: object
    ) -> TranscriberPorts:
        client = httpx.AsyncClient(transport=transport or httpx.MockTransport(lambda r: httpx.Response(404)))
        clients.append(client)
        return TranscriberPorts(
            fetcher=AudioFetcher(client, store, FetchOptions(attempts=1)),
            store=store,
            engine=engine,  # type: ignore[arg-type]
            language="en",
            **extra,  # type: ignore[arg-type]
        )

    yield factory
    for client in clients:
        asyncio.run(client.aclose())
