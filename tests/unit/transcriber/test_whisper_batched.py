"""The batched decoder option: the first pass goes through the batched pipeline, gap filling not."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import numpy.typing as npt

from callpipe_transcriber.engines.factory import whisper_options
from callpipe_transcriber.engines.whisper import WhisperEngine, WhisperOptions
from callpipe_transcriber.settings import TranscriberSettings
from tests.unit.transcriber.test_whisper_gap_fill import RATE, StubModel, _call


class StubBatched(StubModel):
    def transcribe(self, samples: npt.NDArray[np.float32], **kwargs: Any) -> tuple[list[Any], Any]:
        assert "batch_size" in kwargs
        return super().transcribe(samples, **kwargs)


def test_batch_size_setting_reaches_the_engine() -> None:
    assert whisper_options(TranscriberSettings(whisper_batch_size=8)).batch_size == 8
    assert whisper_options(TranscriberSettings()).batch_size == 0  # sequential unless measured better


def test_batched_first_pass_and_sequential_gap_fill() -> None:
    engine = WhisperEngine(WhisperOptions(batch_size=8, vad_parameters={"threshold": 0.3}), executor=None)
    # The plain stub answers its first call as a re-decode (the stub's first-pass answer is the
    # batched one's): seeded with one recorded call.
    plain, batched = StubModel(calls=[{"seconds": 0.0}]), StubBatched()
    engine._model, engine._batched = plain, batched
    segments, _ = engine._transcribe_array(_call(), 0, "en")
    asyncio.run(engine.aclose())
    assert [c["batch_size"] for c in batched.calls] == [8]
    assert batched.calls[0]["seconds"] == len(_call()) / RATE
    # The turn the first pass dropped is decoded again by the sequential model, on its own stretch.
    assert len(plain.calls) == 2 and plain.calls[1]["seconds"] < 5
    assert [s.text for s in segments] == ["thank you for calling", "my internet is down"]


def test_without_batch_size_the_sequential_decoder_runs() -> None:
    engine = WhisperEngine(WhisperOptions(vad_parameters={"threshold": 0.3}), executor=None)
    plain = StubModel()
    engine._model = plain
    engine._transcribe_array(_call(), 0, "en")
    asyncio.run(engine.aclose())
    assert "batch_size" not in plain.calls[0]
