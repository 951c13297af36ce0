"""Decode and validate call audio: any container/codec FFmpeg knows (WAV PCM/µ-law, MP3, FLAC,
OGG/Opus, …), channels kept apart, resampled to the 16 kHz float32 the engines expect.

This is the adapter around PyAV (FFmpeg). Anything FFmpeg cannot make sense of — zero bytes,
truncated headers, a file with no audio stream, garbage — becomes ``InvalidInputError`` with the
reason, so the message is dead-lettered once instead of crash-looping the consumer.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass

import av
import numpy as np
import numpy.typing as npt

from callpipe.errors import InvalidInputError

__all__ = ["ENGINE_RATE", "DecodedAudio", "decode_audio", "is_silent", "speech_activity"]

ENGINE_RATE = 16000  # Whisper's input rate; 8 kHz telephone audio is upsampled to it
_MAX_CHANNELS = 8


@dataclass(frozen=True, slots=True)
class DecodedAudio:
    """Decoded audio: ``samples`` is (channels, frames) float32 in [-1, 1] at ``sample_rate``."""

    samples: npt.NDArray[np.float32]
    sample_rate: int
    source_rate: int
    codec: str
    container: str

    @property
    def channel_count(self) -> int:
        return int(self.samples.shape[0])

    @property
    def duration_s(self) -> float:
        return float(self.samples.shape[1]) / self.sample_rate

    def channel(self, index: int) -> npt.NDArray[np.float32]:
        row: npt.NDArray[np.float32] = self.samples[index]
        return row

    def mono(self) -> npt.NDArray[np.float32]:
        """Mix of all channels (sum, clipped): what a single-channel recorder hears."""
        if self.channel_count == 1:
            return self.channel(0)
        mixed: npt.NDArray[np.float32] = np.clip(self.samples.sum(axis=0), -1.0, 1.0).astype(np.float32)
        return mixed


def decode_audio(
    data: bytes, *, sample_rate: int = ENGINE_RATE, max_duration_s: float = 4 * 3600
) -> DecodedAudio:
    """Decode ``data`` into per-channel float32 at ``sample_rate``; InvalidInputError if unusable."""
    if not data:
        raise InvalidInputError("audio is empty (0 bytes)")
    _check_wav_length(data)
    try:
        container = av.open(io.BytesIO(data), mode="r")
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        raise InvalidInputError(f"audio cannot be opened: {exc}") from exc
    with container:
        if not container.streams.audio:
            raise InvalidInputError(f"no audio stream in {container.format.name} data")
        stream = container.streams.audio[0]
        if stream.codec_context is None:  # FFmpeg found the stream but has no decoder for it
            raise InvalidInputError(f"no decoder for the audio codec in this {container.format.name} data")
        channels = stream.codec_context.channels
        if not 1 <= channels <= _MAX_CHANNELS:
            raise InvalidInputError(
                f"unsupported channel count {channels} (1 to {_MAX_CHANNELS} are handled)"
            )
        source_rate = int(stream.codec_context.sample_rate or 0)
        codec = stream.codec_context.name
        layout = stream.codec_context.layout.name
        # 'fltp' keeps channels in separate planes: one party per channel stays separate.
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=sample_rate)
        chunks: list[npt.NDArray[np.float32]] = []
        frames = 0
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunk = out.to_ndarray().astype(np.float32, copy=False)
                    chunks.append(chunk)
                    frames += chunk.shape[1]
                if frames > max_duration_s * sample_rate:
                    raise InvalidInputError(
                        f"audio longer than the {max_duration_s:.0f} s limit"
                        " (TRANSCRIBER_MAX_AUDIO_DURATION_S); decoding stopped there"
                    )
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().astype(np.float32, copy=False))
        except (av.error.FFmpegError, ValueError) as exc:
            raise InvalidInputError(f"audio is corrupt or truncated ({codec}): {exc}") from exc
        container_name = container.format.name
    if not chunks or sum(c.shape[1] for c in chunks) == 0:
        raise InvalidInputError(f"audio decodes to no samples ({container_name}/{codec}); truncated?")
    samples = np.concatenate(chunks, axis=1)
    if samples.shape[0] != channels:  # layouts FFmpeg could not name come back downmixed
        raise InvalidInputError(
            f"decoder returned {samples.shape[0]} channels for a {channels}-channel stream"
        )
    if not np.isfinite(samples).all():
        raise InvalidInputError("audio contains non-finite samples")
    return DecodedAudio(
        samples=samples,
        sample_rate=sample_rate,
        source_rate=source_rate,
        codec=codec,
        container=container_name,
    )


def _check_wav_length(data: bytes) -> None:
    """A WAV whose data chunk is shorter than its header says was cut off (interrupted upload or
    download). FFmpeg decodes such a file without complaint (it stops where the bytes stop), so
    the transcript would silently lack the end of the call: refuse it instead, with the sizes.
    The "unknown length" markers streaming recorders write (0 and 0xFFFFFFFF) are accepted."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return
    pos = 12
    while pos + 8 <= len(data):
        chunk, size = data[pos : pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        if chunk == b"data":
            present = len(data) - (pos + 8)
            missing = size - present
            if size not in (0, 0xFFFFFFFF) and missing > max(1024, size // 100):
                raise InvalidInputError(
                    f"audio is truncated: the WAV header declares {size} bytes of audio, "
                    f"only {present} are present"
                )
            return
        pos += 8 + size + (size & 1)


def speech_activity(
    samples: npt.NDArray[np.float32], sample_rate: int, *, frame_s: float = 0.02, floor_dbfs: float = -45.0
) -> npt.NDArray[np.bool_]:
    """Per-frame energy activity: frames louder than ``floor_dbfs`` and 12 dB above the noise floor."""
    hop = max(1, int(frame_s * sample_rate))
    n = len(samples) // hop
    if n == 0:
        return np.zeros(0, dtype=np.bool_)
    frames = samples[: n * hop].reshape(n, hop).astype(np.float64)
    db = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    noise_floor = float(np.percentile(db, 10))
    # With no quiet frames at all (continuous sound) the relative test says nothing: loud is
    # active then, and the engine decides whether it is speech.
    relative = (db > noise_floor + 12.0) | (noise_floor > floor_dbfs + 10.0)
    active: npt.NDArray[np.bool_] = (db > floor_dbfs) & relative
    return active


def is_silent(audio: DecodedAudio, *, min_speech_s: float = 0.3) -> bool:
    """True when no channel has ``min_speech_s`` of frames above the speech floor."""
    for index in range(audio.channel_count):
        active = speech_activity(audio.channel(index), audio.sample_rate)
        if active.sum() * 0.02 >= min_speech_s:
            return False
    return True
