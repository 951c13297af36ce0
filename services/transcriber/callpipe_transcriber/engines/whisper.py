"""Offline engine: faster-whisper (CTranslate2) on CPU or GPU, no network at run time.

Whisper runs in a thread pool sized by settings: CTranslate2 releases the GIL while it computes,
so threads give real parallelism without copying audio to worker processes, and the event loop
stays free. Each worker holds no state of its own: one ``WhisperModel`` serves ``workers``
concurrent calls (CTranslate2's ``num_workers``), each using ``cpu_threads`` threads.

Dual-channel audio is transcribed channel by channel (one party per channel); mono audio is
transcribed once with word timestamps and handed to the diarizer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from callpipe.errors import DependencyUnavailableError
from callpipe.models import Word
from callpipe_transcriber.engines.base import EngineRequest, EngineResult, EngineSegment
from callpipe_transcriber.engines.model_files import ModelFiles, resolve_model

__all__ = ["WhisperEngine", "WhisperOptions"]


@dataclass(frozen=True, slots=True)
class WhisperOptions:
    """Decoding settings (chosen by measurement; see the transcriber eval and the issue note)."""

    model: str = "tiny.en"
    device: str = "cpu"
    compute_type: str = "int8"
    cpu_threads: int = 2
    workers: int = 1
    cache_dir: Path = Path("var/models")
    beam_size: int = 1
    language: str | None = "en"
    vad_filter: bool = True
    vad_parameters: dict[str, float] = field(default_factory=dict)
    initial_prompt: str | None = None
    condition_on_previous_text: bool = False
    word_timestamps: bool = True


class WhisperEngine:
    """``SpeechEngine`` backed by faster-whisper."""

    def __init__(self, options: WhisperOptions, *, executor: ThreadPoolExecutor | None = None) -> None:
        self._options = options
        self._files: ModelFiles = resolve_model(options.model, options.cache_dir)
        self._own_executor = executor is None
        self._executor = executor or ThreadPoolExecutor(
            max_workers=options.workers, thread_name_prefix="whisper"
        )
        self._model: Any = None
        self._load_lock = asyncio.Lock()

    @property
    def name(self) -> str:
        return "faster-whisper"

    @property
    def model(self) -> str:
        return self._files.label

    @property
    def model_sha256(self) -> str | None:
        return self._files.verified_sha256

    def _load(self) -> Any:
        from faster_whisper import WhisperModel  # the SDK lives in this adapter only

        try:
            return WhisperModel(
                self._files.model,
                device=self._options.device,
                compute_type=self._options.compute_type,
                cpu_threads=self._options.cpu_threads,
                num_workers=self._options.workers,
                local_files_only=Path(self._files.model).is_dir(),
            )
        except (RuntimeError, ValueError, OSError) as exc:
            raise DependencyUnavailableError(f"cannot load whisper model {self._files.label}: {exc}") from exc

    async def warm_up(self) -> None:
        """Load the model now (at startup) instead of on the first call."""
        async with self._load_lock:
            if self._model is None:
                self._model = await asyncio.get_running_loop().run_in_executor(self._executor, self._load)

    def _transcribe_array(
        self, samples: npt.NDArray[np.float32], channel: int | None, language: str | None
    ) -> tuple[list[EngineSegment], str | None]:
        opts = self._options
        kwargs: dict[str, Any] = {
            "language": language or opts.language,
            "beam_size": opts.beam_size,
            "vad_filter": opts.vad_filter,
            "condition_on_previous_text": opts.condition_on_previous_text,
            "word_timestamps": opts.word_timestamps,
            "initial_prompt": opts.initial_prompt,
        }
        if opts.vad_filter and opts.vad_parameters:
            kwargs["vad_parameters"] = dict(opts.vad_parameters)
        segments, info = self._model.transcribe(samples, **kwargs)
        out = [_segment(seg, channel) for seg in segments]  # the generator decodes lazily: drain here
        return [s for s in out if s.text], info.language

    async def transcribe(self, request: EngineRequest) -> EngineResult:
        await self.warm_up()
        loop = asyncio.get_running_loop()
        audio = request.audio
        if request.multichannel:
            jobs = [
                loop.run_in_executor(
                    self._executor,
                    partial(self._transcribe_array, audio.channel(ch), ch, request.language),
                )
                for ch in range(audio.channel_count)
            ]
            results = await asyncio.gather(*jobs)
            segments = [seg for segs, _ in results for seg in segs]
            language = next((lang for _, lang in results if lang), None)
        else:
            segments, language = await loop.run_in_executor(
                self._executor, partial(self._transcribe_array, audio.mono(), None, request.language)
            )
        segments.sort(key=lambda s: (s.start_s, s.channel or 0))
        return EngineResult(segments=segments, language=language, diarized=False, model=self.model)

    async def aclose(self) -> None:
        if self._own_executor:
            self._executor.shutdown(wait=False, cancel_futures=True)


def _words(raw: Iterable[Any] | None) -> tuple[Word, ...]:
    if not raw:
        return ()
    return tuple(
        Word(
            word=w.word.strip(),
            start_s=round(float(w.start), 3),
            end_s=round(float(w.end), 3),
            confidence=round(float(w.probability), 4),
        )
        for w in raw
        if w.word.strip()
    )


def _segment(seg: Any, channel: int | None) -> EngineSegment:
    words = _words(seg.words)
    confidence = (
        round(float(np.mean([w.confidence for w in words if w.confidence is not None])), 4) if words else None
    )
    return EngineSegment(
        start_s=round(float(seg.start), 3),
        end_s=round(float(seg.end), 3),
        text=seg.text.strip(),
        channel=channel,
        speaker=f"ch{channel}" if channel is not None else None,
        confidence=confidence,
        words=words,
    )
