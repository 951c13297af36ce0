"""The sink's periodic sweep: sweeps at once and at each interval, survives an unreachable
store (logged, retried next time), and ends when the sink stops."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from callpipe.errors import DependencyUnavailableError
from callpipe.settings import RetentionSettings
from callpipe.store import AudioRetention, LocalRecordingStore, StoredObject
from callpipe_sink.retention import audio_retention, sweep_periodically


class _FlakyStore(LocalRecordingStore):
    """A store whose listing fails the first time (e.g. the volume is not mounted yet)."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.walks = 0

    async def walk(self) -> AsyncIterator[list[StoredObject]]:
        self.walks += 1
        if self.walks == 1:
            raise DependencyUnavailableError("store not mounted")
        async for directory in super().walk():
            yield directory


async def test_sweeps_periodically_survives_failures_and_stops(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = _FlakyStore(tmp_path / "rec")
    stopping = asyncio.Event()
    task = asyncio.create_task(sweep_periodically(store, AudioRetention(audio_days=1), 0.01, stopping))
    for _ in range(500):
        if store.walks >= 3:
            break
        await asyncio.sleep(0.01)
    assert store.walks >= 3  # the failure did not end the loop
    assert "retention sweep failed" in caplog.text
    stopping.set()
    await asyncio.wait_for(task, 5)


def test_audio_retention_bounds_the_originals_by_the_audio() -> None:
    assert audio_retention(RetentionSettings(audio_days=30, original_audio_days=90)) == AudioRetention(30, 30)
    assert audio_retention(RetentionSettings(original_audio_days=7)) == AudioRetention(0, 7)
