"""Offline engine: faster-whisper (CTranslate2) on CPU or GPU, no network at run time.

Whisper runs in a thread pool sized by settings: CTranslate2 releases the GIL while it computes,
so threads give real parallelism without copying audio to worker processes, and the event loop
stays free. Each worker holds no state of its own: one ``WhisperModel`` serves ``workers``
concurrent calls (CTranslate2's ``num_workers``), each using ``cpu_threads`` threads.

Dual-channel audio is transcribed channel by channel (one party per channel); mono audio is
transcribed once with word timestamps and handed to the diarizer.

Pre-emphasis: telephone audio (8 kHz, 300-3400 Hz) has little energy in the upper band that
Whisper's features lean on; a first-order pre-emphasis filter (y[n] = x[n] - a·x[n-1], a = 0.97)
lifts it. Measured with the base model on the synthetic 8 kHz calls: WER 0.160 → 0.140 on the
sample set and 0.155 → 0.131 on the held-out set (same direction on both, so not tuned to one).

Repetition: on one eval channel (billing_dispute, agent) beam search at temperature 0 ran into a
repetition loop (compression ratio 5.6): it generated up to the 448-token limit with 5 beams, the
compression-ratio check then threw that away and decoded the window again at temperature 0.2 —
7.2 s of CPU for that channel against ~2.5 s for the others, the call's RTF 0.18. A repetition
penalty (or a ban on repeated n-grams) stops the loop while it is being decoded, so the first
pass is already the good one (2.4–2.8 s). Chosen by the eval: no_repeat_ngram_size 4 (the
repetition penalty cost WER everywhere); the table is in the settings.

Gap filling: Whisper sometimes ends a 30 s window early (it predicts end-of-text and the rest of
the window is never decoded): on the eval calls whole turns went missing that way, e.g. 50 words
of one agent channel. After the first pass, every stretch of speech (energy activity, as for
silence detection) that no recognized word overlaps is decoded again on its own, without the
prompt, and its words are added. It costs nothing when nothing was dropped.
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
from callpipe_transcriber.audio import speech_activity
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
    fill_gaps: bool = True
    pre_emphasis: float = 0.97  # 0 = off
    gap_min_s: float = 1.0  # speech stretches shorter than this are not re-decoded
    # Guards against runaway repetition (see the module docstring); 1.0 / 0 = off.
    repetition_penalty: float = 1.0
    no_repeat_ngram_size: int = 4
    # > 0: decode the VAD chunks of a recording in batches of this size (faster-whisper's
    # BatchedInferencePipeline); 0: the sequential decoder. See the settings for the measurement.
    batch_size: int = 0


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
        self._batched: Any = None
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
                if self._options.batch_size > 0:
                    from faster_whisper import BatchedInferencePipeline

                    self._batched = BatchedInferencePipeline(self._model)

    def _transcribe_array(
        self,
        samples: npt.NDArray[np.float32],
        channel: int | None,
        language: str | None,
        keyterms: tuple[str, ...] = (),
    ) -> tuple[list[EngineSegment], str | None]:
        opts = self._options
        kwargs: dict[str, Any] = {
            "language": language or opts.language,
            "beam_size": opts.beam_size,
            "vad_filter": opts.vad_filter,
            "condition_on_previous_text": opts.condition_on_previous_text,
            "word_timestamps": opts.word_timestamps,
            "initial_prompt": opts.initial_prompt,
            "repetition_penalty": opts.repetition_penalty,
            "no_repeat_ngram_size": opts.no_repeat_ngram_size,
            # The call center's custom vocabulary (brand and product names), as Deepgram's
            # keyterm: Whisper gets them as hint phrases ahead of each window. Measured on two
            # mono eval calls: "proof where we left from" → "Proseware Electronics", "for every
            # cam" → "Fabrikam", the rest of the first window unchanged.
            "hotwords": ", ".join(keyterms) if keyterms else None,
        }
        if opts.vad_filter and opts.vad_parameters:
            kwargs["vad_parameters"] = dict(opts.vad_parameters)
        samples = _pre_emphasize(samples, opts.pre_emphasis)
        if self._batched is not None and opts.vad_filter:
            # The batched pipeline cuts the audio at its VAD chunks and decodes them side by side
            # (it needs the VAD; without it the sequential decoder runs).
            segments, info = self._batched.transcribe(samples, batch_size=opts.batch_size, **kwargs)
        else:
            segments, info = self._model.transcribe(samples, **kwargs)
        out = [_segment(seg, channel) for seg in segments]  # the generator decodes lazily: drain here
        out = [s for s in out if s.text]
        if opts.fill_gaps:
            out = self._fill_gaps(samples, out, channel, kwargs)
        return out, info.language

    def _fill_gaps(
        self,
        samples: npt.NDArray[np.float32],
        segments: list[EngineSegment],
        channel: int | None,
        kwargs: dict[str, Any],
    ) -> list[EngineSegment]:
        rate = 16000
        covered = [(w.start_s, w.end_s) for seg in segments for w in seg.words] or [
            (seg.start_s, seg.end_s) for seg in segments
        ]
        retry = dict(kwargs, initial_prompt=None, vad_filter=False)
        retry.pop("vad_parameters", None)
        added: list[EngineSegment] = []
        for start, end in _speech_regions(samples, rate):
            if end - start < self._options.gap_min_s:
                continue
            overlap = sum(max(0.0, min(end, b) - max(start, a)) for a, b in covered)
            if overlap > 0.1 * (end - start):
                continue
            lo, hi = max(0.0, start - 0.3), min(len(samples) / rate, end + 0.3)
            piece, _ = self._model.transcribe(samples[int(lo * rate) : int(hi * rate)], **retry)
            added.extend(_shift(_segment(seg, channel), lo) for seg in piece)
        if not added:
            return segments
        return sorted([*segments, *(s for s in added if s.text)], key=lambda s: s.start_s)

    async def transcribe(self, request: EngineRequest) -> EngineResult:
        await self.warm_up()
        loop = asyncio.get_running_loop()
        audio = request.audio
        if request.multichannel:
            jobs = [
                loop.run_in_executor(
                    self._executor,
                    partial(
                        self._transcribe_array, audio.channel(ch), ch, request.language, request.keyterms
                    ),
                )
                for ch in (request.channels or range(audio.channel_count))
            ]
            results = await asyncio.gather(*jobs)
            segments = [seg for segs, _ in results for seg in segs]
            language = next((lang for _, lang in results if lang), None)
        else:
            segments, language = await loop.run_in_executor(
                self._executor,
                partial(self._transcribe_array, audio.mono(), None, request.language, request.keyterms),
            )
        segments.sort(key=lambda s: (s.start_s, s.channel or 0))
        return EngineResult(segments=segments, language=language, diarized=False, model=self.model)

    async def aclose(self) -> None:
        if self._own_executor:
            self._executor.shutdown(wait=False, cancel_futures=True)


def _pre_emphasize(samples: npt.NDArray[np.float32], coefficient: float) -> npt.NDArray[np.float32]:
    """y[n] = x[n] - a·x[n-1], then peak-normalized to 0.9 (the filter changes the level)."""
    if coefficient <= 0 or samples.size < 2:
        return samples
    out = samples.astype(np.float32, copy=True)
    out[1:] -= np.float32(coefficient) * samples[:-1]
    peak = float(np.abs(out).max())
    if peak > 0:
        out *= np.float32(0.9 / peak)
    return out


def _speech_regions(samples: npt.NDArray[np.float32], rate: int) -> list[tuple[float, float]]:
    """Stretches of energy activity (20 ms frames) joined across pauses shorter than 0.5 s."""
    active = speech_activity(samples, rate)
    regions: list[tuple[float, float]] = []
    idx = np.flatnonzero(active)
    if idx.size == 0:
        return regions
    start = prev = int(idx[0])
    for i in idx[1:].tolist():
        if i - prev > 25:
            regions.append((start * 0.02, (prev + 1) * 0.02))
            start = i
        prev = i
    regions.append((start * 0.02, (prev + 1) * 0.02))
    return regions


def _shift(seg: EngineSegment, offset: float) -> EngineSegment:
    words = tuple(
        Word(
            word=w.word,
            start_s=round(w.start_s + offset, 3),
            end_s=round(w.end_s + offset, 3),
            confidence=w.confidence,
        )
        for w in seg.words
    )
    return EngineSegment(
        start_s=round(seg.start_s + offset, 3),
        end_s=round(seg.end_s + offset, 3),
        text=seg.text,
        channel=seg.channel,
        speaker=seg.speaker,
        confidence=seg.confidence,
        words=words,
    )


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
