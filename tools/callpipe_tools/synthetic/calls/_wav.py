"""Minimal WAV reading/writing for the synthetic generator: PCM16 and G.711 µ-law.

The stdlib ``wave`` module only writes PCM, and telephone recordings (Twilio's included) are
often µ-law: the sample calls are committed as µ-law so they stay small and exercise that path.
"""

from __future__ import annotations

import struct
import wave
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

__all__ = ["WavEncoding", "mulaw_encode", "pad_with_silence", "read_wav_pcm16", "write_wav"]

WavEncoding = Literal["pcm16", "mulaw"]

_MULAW_BIAS = 0x84
_MULAW_CLIP = 32635


def mulaw_encode(samples: npt.NDArray[np.int16]) -> npt.NDArray[np.uint8]:
    """G.711 µ-law encoding of 16-bit samples (the ITU reference algorithm, vectorised)."""
    x = samples.astype(np.int32)
    sign = np.where(x < 0, 0x80, 0x00)
    magnitude = np.minimum(np.abs(x), _MULAW_CLIP) + _MULAW_BIAS
    # Exponent = position of the highest set bit above bit 7 (0..7).
    exponent = np.clip(np.floor(np.log2(magnitude)).astype(np.int32) - 7, 0, 7)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    encoded: npt.NDArray[np.uint8] = (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8)
    return encoded


def write_wav(
    path: Path, samples: npt.NDArray[np.int16], sample_rate: int, encoding: WavEncoding = "pcm16"
) -> None:
    """Write ``samples`` shaped (frames,) or (frames, channels) as a WAV file."""
    if samples.ndim not in (1, 2):
        raise ValueError(f"samples must be (frames,) or (frames, channels), got shape {samples.shape}")
    frames = samples if samples.ndim == 2 else samples[:, None]
    channels = int(frames.shape[1])
    if encoding == "pcm16":
        with wave.open(str(path), "wb") as out:
            out.setnchannels(channels)
            out.setsampwidth(2)
            out.setframerate(sample_rate)
            out.writeframes(frames.astype("<i2").tobytes())
        return
    data = mulaw_encode(frames.reshape(-1)).tobytes()
    # WAVE_FORMAT_MULAW (7): non-PCM formats carry cbSize and a fact chunk (frame count).
    fmt = struct.pack("<HHIIHHH", 7, channels, sample_rate, sample_rate * channels, channels, 8, 0)
    fact = struct.pack("<I", int(frames.shape[0]))
    pad = b"\x00" if len(data) % 2 else b""
    body = (
        b"WAVE"
        + b"fmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"fact"
        + struct.pack("<I", len(fact))
        + fact
        + b"data"
        + struct.pack("<I", len(data))
        + data
        + pad
    )
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)


def read_wav_pcm16(path: Path) -> tuple[npt.NDArray[np.int16], int]:
    """Read a PCM16 WAV as (frames, channels) int16 and its sample rate."""
    with wave.open(str(path), "rb") as src:
        if src.getsampwidth() != 2:
            raise ValueError(f"{path}: expected 16-bit PCM, got {8 * src.getsampwidth()}-bit")
        channels = src.getnchannels()
        rate = src.getframerate()
        raw = src.readframes(src.getnframes())
    return np.frombuffer(raw, dtype="<i2").reshape(-1, channels).astype(np.int16), rate


def pad_with_silence(base: Path, extra_frames: int, out: Path) -> Path:
    """``base`` plus ``extra_frames`` of trailing silence, written to ``out``: the same speech
    (so the same engine work) in different bytes, which ingest sees as a different recording."""
    with wave.open(str(base), "rb") as src:
        params = src.getparams()
        frames = src.readframes(params.nframes)
    silence = b"\x00" * (extra_frames * params.sampwidth * params.nchannels)
    with wave.open(str(out), "wb") as dst:
        dst.setparams(params)
        dst.writeframes(frames + silence)
    return out
