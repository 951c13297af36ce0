"""Decode check before a recording is accepted: the bytes decode, the duration is read, a file
shorter than its own header says is refused, and channels/sample rate are within limits.

Sniffing (audio.py) looks at the first bytes only, so a WAV header claiming 2 GB with 44 KB of
data, an ID3 tag followed by random bytes, or the first third of an MP3 pass it. Here FFmpeg
(PyAV) decodes the whole file once. Truncation: the container's declared duration (WAV data-chunk
size, MP3 Xing/Info frame count, FLAC STREAMINFO samples) is compared with what decodes. A CBR MP3
without a Xing header or an Ogg file declares nothing but its own length, so a cut there is only
caught when the cut frame does not decode (documented in docs/security.md).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import av

from callpipe import limits
from callpipe.errors import InvalidInputError

__all__ = ["BadAudioError", "DecodedAudio", "check_audio"]


class BadAudioError(InvalidInputError):
    """Audio of an accepted format that is unusable: undecodable, empty, truncated, off-limits (422)."""


@dataclass(frozen=True, slots=True)
class DecodedAudio:
    duration_s: float
    declared_s: float | None
    channels: int
    sample_rate: int


def check_audio(source: bytes | Path, header_duration_s: float | None = None) -> DecodedAudio:
    """Decode ``source`` fully; BadAudioError with the reason when it is not usable audio.

    ``header_duration_s``: what our own header parse read (audio.py) — FFmpeg clamps a WAV
    data-chunk size larger than the file to the file, which would hide exactly that truncation.
    """
    try:
        with av.open(io.BytesIO(source) if isinstance(source, bytes) else str(source), mode="r") as container:
            if not container.streams.audio:
                raise BadAudioError("no audio stream in the file")
            stream = container.streams.audio[0]
            declared = container.duration / av.time_base if container.duration else None
            if header_duration_s is not None:
                declared = max(declared or 0.0, header_duration_s)
            channels, rate = stream.channels, stream.sample_rate
            _check_format(channels, rate)
            samples = 0
            for frame in container.decode(stream):
                samples += frame.samples
                if samples / rate > limits.AUDIO_MAX_DURATION_S:
                    raise BadAudioError(f"audio is longer than {limits.AUDIO_MAX_DURATION_S:.0f} s")
    except av.error.FFmpegError as exc:
        raise BadAudioError(f"audio does not decode: {type(exc).__name__}") from None
    decoded = samples / rate if rate else 0.0
    if decoded < limits.AUDIO_MIN_DURATION_S:
        raise BadAudioError(f"no audio data: {decoded:.2f} s decodes (least {limits.AUDIO_MIN_DURATION_S} s)")
    if declared is not None:
        shortfall = declared - decoded
        if shortfall > max(0.5, limits.AUDIO_TRUNCATION_TOLERANCE * declared):
            raise BadAudioError(
                f"audio is truncated: the file declares {declared:.1f} s, {decoded:.1f} s decodes"
            )
    return DecodedAudio(decoded, declared, channels, rate)


def _check_format(channels: int, rate: int) -> None:
    if not 1 <= channels <= limits.AUDIO_MAX_CHANNELS:
        raise BadAudioError(f"{channels} channels (1 to {limits.AUDIO_MAX_CHANNELS} accepted)")
    if not limits.AUDIO_MIN_SAMPLE_RATE <= rate <= limits.AUDIO_MAX_SAMPLE_RATE:
        raise BadAudioError(
            f"sample rate {rate} Hz "
            f"(accepted {limits.AUDIO_MIN_SAMPLE_RATE}–{limits.AUDIO_MAX_SAMPLE_RATE} Hz)"
        )
