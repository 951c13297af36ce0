"""Ingest enforces the limits the rest of the pipeline relies on, before any 2xx: audio the
transcriber would dead-letter later is refused at the door, on the upload API and the bulk import
alike."""

from __future__ import annotations

import argparse
import dataclasses
import wave
from pathlib import Path

import pytest
from pydantic import ValidationError

from callpipe import limits
from callpipe.avro import AvroSerde, LocalSchemaRegistry
from callpipe.models import RecordingReady
from callpipe.settings import RecordingStoreSettings, TopicSettings
from callpipe.store import LocalRecordingStore
from callpipe_ingest import bulk_import
from callpipe_ingest.bulk_import import import_paths
from callpipe_ingest.ledger import Ledger
from callpipe_ingest.publisher import Publisher
from callpipe_transcriber.settings import TranscriberSettings
from callpipe_transcriber.stage import TranscriberPorts
from tests.unit.ingest.ingest_support import MemorySender, make_settings

TOPICS = TopicSettings()
SERDE = AvroSerde(RecordingReady, LocalSchemaRegistry.from_directory(), f"{TOPICS.recordings}-value")


def _silent_wav(path: Path, seconds: float) -> Path:
    """8-bit mono 8 kHz (the smallest WAV ingest accepts): 8 kB per second, written in minutes."""
    minute = b"\x80" * 8000 * 60
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(1)
        w.setframerate(8000)
        whole, rest = divmod(int(seconds * 8000), len(minute))
        for _ in range(whole):
            w.writeframes(minute)
        w.writeframes(minute[:rest])
    return path


def test_ingest_and_the_transcriber_share_one_duration_limit() -> None:
    ports_default = {f.name: f.default for f in dataclasses.fields(TranscriberPorts)}
    assert TranscriberSettings().max_audio_duration_s == limits.AUDIO_MAX_DURATION_S
    assert ports_default["max_audio_duration_s"] == limits.AUDIO_MAX_DURATION_S
    # Lower than ingest's limit would bring back "201 now, dead-lettered later".
    with pytest.raises(ValidationError, match="greater than or equal"):
        TranscriberSettings(max_audio_duration_s=limits.AUDIO_MAX_DURATION_S - 1)


async def test_audio_longer_than_the_transcriber_takes_is_refused_before_publishing(
    tmp_path: Path, sender: MemorySender, store: LocalRecordingStore
) -> None:
    """Was: ingest allowed 6 h, the transcriber 2 h, so a 3 h call got 201 and died downstream."""
    folder = tmp_path / "long"
    folder.mkdir()
    _silent_wav(folder / "over.wav", TranscriberSettings().max_audio_duration_s + 10)
    publisher = Publisher(sender, SERDE, TOPICS, Ledger(store))
    summary = await import_paths([folder], publisher, store, progress=False)
    assert summary.published == []
    [(path, reason)] = summary.rejected
    assert path.name == "over.wav"
    assert reason == f"audio is longer than {limits.AUDIO_MAX_DURATION_S:.0f} s"
    assert sender.records == []


async def test_bulk_import_refuses_files_over_the_upload_limit(
    tmp_path: Path, sender: MemorySender, store: LocalRecordingStore
) -> None:
    """Was: the README's 512 MiB applied to uploads only; `callpipe import` took any size."""
    folder = tmp_path / "sizes"
    folder.mkdir()
    small = _silent_wav(folder / "small.wav", 1.0)
    big = _silent_wav(folder / "big.wav", 3.0)
    limit = small.stat().st_size + 1
    publisher = Publisher(sender, SERDE, TOPICS, Ledger(store))
    summary = await import_paths([folder], publisher, store, progress=False, max_audio_bytes=limit)
    assert summary.published == [small]
    assert summary.rejected == [
        (big, f"audio is {big.stat().st_size} bytes, over the {limit}-byte limit (INGEST_MAX_UPLOAD_BYTES)")
    ]
    assert len(sender.records) == 1


async def test_callpipe_import_applies_the_configured_upload_limit(
    tmp_path: Path, sender: MemorySender, capsys: pytest.CaptureFixture[str]
) -> None:
    """The CLI path (`callpipe import`) passes INGEST_MAX_UPLOAD_BYTES to the import."""
    folder = tmp_path / "cli"
    folder.mkdir()
    big = _silent_wav(folder / "big.wav", 2.0)
    settings = make_settings(
        max_upload_bytes=big.stat().st_size - 1,
        recording_store=RecordingStoreSettings(url=f"file://{tmp_path / 'rec'}"),
    )
    args = argparse.Namespace(paths=[folder], transcripts=False, no_progress=True, json=False)
    assert await bulk_import._run(args, settings, sender) == 1
    assert "over the" in capsys.readouterr().out
    assert sender.records == []
