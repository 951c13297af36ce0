"""Real audio from FFmpeg's encoders inside PyAV, and the broken variants the probes send."""

from __future__ import annotations

import io
import random
import struct

import av
import numpy as np


def tone_mp3(seconds: float = 6.0, rate: int = 16000) -> bytes:
    """A 440 Hz tone as MP3 (libmp3lame; FFmpeg writes a Xing/Info header declaring the length)."""
    t = np.arange(int(rate * seconds)) / rate
    tone = (np.sin(2 * np.pi * 440 * t) * 0.3 * 32767).astype(np.int16).reshape(1, -1)
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp3") as out:
        stream = out.add_stream("libmp3lame", rate=rate, layout="mono")
        frame = av.AudioFrame.from_ndarray(tone, format="s16", layout="mono")
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    return buf.getvalue()


def wav_header(data_size: int, channels: int = 1, rate: int = 8000) -> bytes:
    byte_rate = rate * channels * 2
    fmt = struct.pack("<HHIIHH", 1, channels, rate, byte_rate, channels * 2, 16)
    return (
        b"RIFF"
        + struct.pack("<I", 36 + data_size)
        + b"WAVE"
        + b"fmt "
        + struct.pack("<I", 16)
        + fmt
        + (b"data" + struct.pack("<I", data_size))
    )


def wav_claiming_2gb() -> bytes:
    return wav_header(2_000_000_000) + random.Random(1).randbytes(44_000)


def wav_without_data() -> bytes:
    return wav_header(0)


def id3_then_random() -> bytes:
    return b"ID3\x03\x00\x00\x00\x00\x00\x00" + random.Random(2).randbytes(30_000)
