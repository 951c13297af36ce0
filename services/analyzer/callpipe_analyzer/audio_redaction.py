"""PCI in audio: the archived recording gets card numbers, security codes and SSNs bleeped.

The text redaction (``redaction``) knows what was said and, from the word timings, when. This
module turns those times into a redacted copy of the recording: every channel (a card number on
the caller's channel bleeds into the agent's) is replaced in each span, padded on both sides, by
a 1 kHz tone (what listeners recognise as "removed") or silence. The copy is a 16-bit PCM WAV at
the recording's own rate and channel count, stored beside the original as
``<original key>.pci-redacted.wav`` (``callpipe.store.redacted_key_of``); the analysis then
names the copy as the call's ``audio_uri``, so playback, reprocessing and every later reader get
the redacted audio by default.

The original is deleted once the copy is stored, unless ``keep_original`` is set (then it lives
on under its own key, for the retention sweep to remove on its own schedule, and erasure removes
it with the copy: see ``callpipe.store.original_uri_of``). Order and idempotency: copy first,
original second, so a crash in between leaves both and the redelivered call redoes the same work;
a redelivery after the original is gone finds the copy and reuses it.

What cannot be redacted (no recording archived, a recording that no longer decodes) does not
stop the analysis: the call gets a flag (``audio_redaction_failed:<why>``) a supervisor can
filter on, because losing the analysis would not make the audio any safer. A store that cannot
be reached is retried like any dependency (the error's class decides).
"""

from __future__ import annotations

import asyncio
import io
import logging
import wave
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from callpipe.errors import InvalidInputError
from callpipe.store import RecordingNotFoundError, RecordingStore, redacted_key_of
from callpipe_analyzer.redaction import AudioSpan

__all__ = ["AudioRedactionOptions", "AudioRedactionOutcome", "AudioRedactor", "bleep", "merge_spans"]

log = logging.getLogger("callpipe.analyzer.audio_redaction")

_FADE_S = 0.01  # ramps at each edge of a tone, so the bleep itself does not click


@dataclass(frozen=True)
class AudioRedactionOptions:
    enabled: bool = True
    # What is removed from the audio: payment-card data and SSNs (PCI DSS / the usual scope).
    # Phone numbers and e-mail addresses stay audible unless listed here.
    kinds: frozenset[str] = field(default_factory=lambda: frozenset({"card_number", "card_security", "ssn"}))
    mode: Literal["tone", "silence"] = "tone"
    pad_s: float = 0.25  # word timings are approximate: a margin either side of each span
    tone_hz: float = 1000.0
    tone_dbfs: float = -18.0
    keep_original: bool = False


@dataclass(frozen=True)
class AudioRedactionOutcome:
    audio_uri: str  # what the analysis names: the redacted copy, or the recording unchanged
    redacted_seconds: float = 0.0
    flags: tuple[str, ...] = ()


def merge_spans(spans: Iterable[AudioSpan], pad_s: float, duration_s: float) -> list[tuple[float, float]]:
    """Padded spans, clipped to the recording and merged where they touch."""
    padded = sorted((max(0.0, s.start_s - pad_s), min(duration_s, s.end_s + pad_s)) for s in spans)
    merged: list[tuple[float, float]] = []
    for start, end in padded:
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def bleep(
    samples: npt.NDArray[np.int16],
    rate: int,
    spans: Sequence[tuple[float, float]],
    options: AudioRedactionOptions,
) -> npt.NDArray[np.int16]:
    """A copy of ``samples`` (channels × frames) with every span replaced on every channel."""
    out = samples.copy()
    amplitude = 32767 * 10 ** (options.tone_dbfs / 20)
    fade = max(1, int(_FADE_S * rate))
    for start_s, end_s in spans:
        a, b = int(start_s * rate), min(out.shape[1], int(np.ceil(end_s * rate)))
        if b <= a:
            continue
        if options.mode == "silence":
            out[:, a:b] = 0
            continue
        t = np.arange(b - a) / rate
        tone = amplitude * np.sin(2 * np.pi * options.tone_hz * t)
        ramp = np.minimum(1.0, np.minimum(np.arange(b - a) + 1, np.arange(b - a)[::-1] + 1) / fade)
        out[:, a:b] = (tone * ramp).astype(np.int16)[None, :]
    return out


def _decode(data: bytes) -> tuple[npt.NDArray[np.int16], int]:
    """Any container FFmpeg reads → int16 samples (channels × frames) at the recording's rate."""
    import av  # the analyzer image's only FFmpeg use; imported here so tools need not load it

    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            stream = container.streams.audio[0]
            rate = int(stream.rate or stream.codec_context.sample_rate)
            resampler = av.AudioResampler(format="s16p", layout=stream.layout, rate=rate)
            chunks: list[npt.NDArray[np.int16]] = []
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().astype(np.int16, copy=False))
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().astype(np.int16, copy=False))
    except (av.error.FFmpegError, IndexError, ValueError) as exc:
        raise InvalidInputError(f"recording does not decode: {type(exc).__name__}: {exc}") from exc
    if not chunks:
        raise InvalidInputError("recording has no audio frames")
    return np.concatenate(chunks, axis=1).astype(np.int16), rate


def _encode_wav(samples: npt.NDArray[np.int16], rate: int) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(samples.shape[0])
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(np.ascontiguousarray(samples.T).tobytes())
    return buffer.getvalue()


class AudioRedactor:
    """Writes the redacted copy of a recording; one instance serves every call."""

    def __init__(self, store: RecordingStore, options: AudioRedactionOptions | None = None) -> None:
        self.store = store
        self.options = options or AudioRedactionOptions()

    async def redact(self, audio_uri: str, spans: Sequence[AudioSpan]) -> AudioRedactionOutcome:
        wanted = [s for s in spans if s.kind in self.options.kinds]
        if not self.options.enabled or not wanted:
            return AudioRedactionOutcome(audio_uri)
        if not audio_uri:
            return AudioRedactionOutcome(audio_uri, flags=("audio_redaction_failed:no_recording",))
        try:
            source_key = self.store.key_of(audio_uri)
        except InvalidInputError:
            # Audio kept elsewhere (e.g. the telephony provider's copy): not ours to rewrite.
            return AudioRedactionOutcome(audio_uri, flags=("audio_redaction_failed:outside_store",))
        # A recording that is already a redacted copy (reprocessed) is rewritten in place.
        target_key = redacted_key_of(source_key)
        try:
            data = await self.store.get(audio_uri)
        except RecordingNotFoundError:
            if await self.store.exists(target_key):  # redelivered after the original was deleted
                return AudioRedactionOutcome(self.store.uri_for(target_key), flags=("audio_redacted",))
            return AudioRedactionOutcome(audio_uri, flags=("audio_redaction_failed:recording_missing",))
        try:
            samples, rate = await asyncio.to_thread(_decode, data)
        except InvalidInputError as exc:
            log.warning("audio redaction: %s", exc)
            return AudioRedactionOutcome(audio_uri, flags=("audio_redaction_failed:undecodable",))
        merged = merge_spans(wanted, self.options.pad_s, samples.shape[1] / rate)
        redacted = await asyncio.to_thread(bleep, samples, rate, merged, self.options)
        target_uri = await self.store.put(target_key, _encode_wav(redacted, rate), "audio/wav")
        if not self.options.keep_original and target_key != source_key:
            await self.store.delete(audio_uri)
        seconds = round(sum(end - start for start, end in merged), 3)
        return AudioRedactionOutcome(target_uri, redacted_seconds=seconds, flags=("audio_redacted",))
