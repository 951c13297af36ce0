"""The configured custom vocabulary reaches faster-whisper as hint phrases (``hotwords``)."""

from __future__ import annotations

import asyncio

from callpipe_transcriber.audio import DecodedAudio
from callpipe_transcriber.engines.base import EngineRequest
from tests.unit.transcriber.test_whisper_gap_fill import RATE, _call, _engine


def _request(keyterms: tuple[str, ...]) -> EngineRequest:
    audio = DecodedAudio(
        samples=_call()[None, :], sample_rate=RATE, source_rate=8000, codec="pcm", container="wav"
    )
    return EngineRequest(
        data=b"", content_type="audio/wav", audio=audio, multichannel=False, keyterms=keyterms
    )


def test_keyterms_are_passed_as_hotwords_on_every_pass() -> None:
    engine, stub = _engine(fill=True)
    asyncio.run(engine.transcribe(_request(("Proseware Electronics", "Northwind"))))
    asyncio.run(engine.aclose())
    assert len(stub.calls) == 2  # the first pass and the gap re-decode
    assert all(call["hotwords"] == "Proseware Electronics, Northwind" for call in stub.calls)


def test_no_keyterms_no_hotwords() -> None:
    engine, stub = _engine(fill=False)
    asyncio.run(engine.transcribe(_request(())))
    asyncio.run(engine.aclose())
    assert stub.calls[0]["hotwords"] is None
