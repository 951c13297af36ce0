"""Gap filling in the faster-whisper engine: speech that the first pass dropped is decoded again.

The Whisper model is replaced by a stub that behaves like the failure seen on the eval calls:
the first pass stops after the first turn (end-of-text predicted early), so the second turn has
no words. The engine must re-decode just that stretch, without the prompt, and shift its times.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import numpy.typing as npt

from callpipe_transcriber.engines.whisper import WhisperEngine, WhisperOptions

RATE = 16000


def _tone(seconds: float) -> npt.NDArray[np.float32]:
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.3 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)


def _call() -> npt.NDArray[np.float32]:
    """Speech 1.0-3.0 s and 5.0-8.0 s, silence elsewhere (10 s)."""
    audio = np.zeros(10 * RATE, dtype=np.float32)
    audio[1 * RATE : 3 * RATE] = _tone(2.0)
    audio[5 * RATE : 8 * RATE] = _tone(3.0)
    return audio


def _seg(text: str, start: float, end: float) -> Any:
    words = text.split()
    step = (end - start) / len(words)
    return SimpleNamespace(
        start=start,
        end=end,
        text=" " + text,
        words=[
            SimpleNamespace(word=" " + w, start=start + i * step, end=start + (i + 1) * step, probability=0.9)
            for i, w in enumerate(words)
        ],
    )


@dataclass
class StubModel:
    calls: list[dict[str, Any]] = field(default_factory=list)

    def transcribe(self, samples: npt.NDArray[np.float32], **kwargs: Any) -> tuple[list[Any], Any]:
        self.calls.append({"seconds": len(samples) / RATE, **kwargs})
        info = SimpleNamespace(language="en")
        if len(self.calls) == 1:  # first pass: only the first turn comes back
            return [_seg("thank you for calling", 1.0, 3.0)], info
        return [_seg("my internet is down", 0.3, 3.3)], info  # times relative to the clip


def _engine(fill: bool) -> tuple[WhisperEngine, StubModel]:
    engine = WhisperEngine(
        WhisperOptions(fill_gaps=fill, initial_prompt="Phone call.", vad_parameters={"threshold": 0.3}),
        executor=None,
    )
    stub = StubModel()
    engine._model = stub
    return engine, stub


def test_dropped_turn_is_decoded_again_at_its_own_time(tmp_path: Path) -> None:
    engine, stub = _engine(fill=True)
    segments, language = engine._transcribe_array(_call(), 1, "en")
    asyncio.run(engine.aclose())
    assert language == "en"
    assert [s.text for s in segments] == ["thank you for calling", "my internet is down"]
    second = segments[1]
    assert second.channel == 1
    # The clip started 0.3 s before the gap (5.0 s): times are shifted back onto the call.
    assert abs(second.start_s - 5.0) < 0.05 and abs(second.words[-1].end_s - 8.0) < 0.05
    assert len(stub.calls) == 2
    retry = stub.calls[1]
    assert retry["initial_prompt"] is None and retry["vad_filter"] is False
    assert 3.0 <= retry["seconds"] <= 3.8  # only the gap (plus margins), not the whole call


def test_nothing_is_redone_when_every_stretch_has_words() -> None:
    engine, stub = _engine(fill=True)
    stub.calls.append({})  # make the stub answer the "second pass" text on the first call

    segments, _ = engine._transcribe_array(_tone(3.0), None, "en")
    asyncio.run(engine.aclose())
    assert [s.text for s in segments] == ["my internet is down"]
    assert len(stub.calls) == 2  # the primed entry + one real pass: no retry


def test_gap_fill_can_be_turned_off() -> None:
    engine, stub = _engine(fill=False)
    segments, _ = engine._transcribe_array(_call(), 0, "en")
    asyncio.run(engine.aclose())
    assert [s.text for s in segments] == ["thank you for calling"]
    assert len(stub.calls) == 1
