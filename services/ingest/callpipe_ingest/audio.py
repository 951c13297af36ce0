"""Audio sniffing: decide from the bytes (never from a filename or a client's Content-Type) whether
an upload is audio callpipe can transcribe, and read what the header says about channels.

Accepted: WAV with PCM, µ-law or A-law samples (the telephony codecs), MP3, FLAC, Ogg with Opus or
Vorbis. Anything else is refused before it reaches the store, so the transcriber never meets a
PDF renamed to .wav.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from callpipe.errors import InvalidInputError

__all__ = ["SNIFF_BYTES", "AudioInfo", "UnsupportedAudioError", "sniff_audio"]

SNIFF_BYTES = 64 * 1024  # enough for a WAV header with large LIST/bext chunks before "fmt "

_WAV_CODECS = {1: "pcm", 6: "alaw", 7: "mulaw", 3: "float"}
# WAVE_FORMAT_EXTENSIBLE keeps the real codec in the first two bytes of the sub-format GUID.
_WAV_EXTENSIBLE = 0xFFFE
_MP3_BITRATE_INDEX_BAD = {0b1111}
_MP3_SAMPLE_RATE_BAD = 0b11


class UnsupportedAudioError(InvalidInputError):
    """The bytes are not audio of an accepted format (HTTP 415)."""


@dataclass(frozen=True, slots=True)
class AudioInfo:
    """What the container header tells about a recording."""

    format: str  # wav, mp3, flac, ogg
    codec: str  # pcm, mulaw, alaw, float, mp3, flac, opus, vorbis
    content_type: str
    extension: str
    channels: int | None  # None when the header does not say (MP3 joint stereo still says 2)
    sample_rate: int | None = None
    duration_s: float | None = None


def sniff_audio(head: bytes, total_size: int | None = None) -> AudioInfo:
    """Identify the audio in ``head`` (the first bytes of the file); UnsupportedAudioError if none."""
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return _wav(head, total_size)
    if head[:4] == b"fLaC":
        return _flac(head)
    if head[:4] == b"OggS":
        return _ogg(head)
    if head[:3] == b"ID3" or _mp3_frame_at(head, 0):
        return _mp3(head)
    raise UnsupportedAudioError(
        "not a supported audio format (accepted: WAV PCM/µ-law/A-law, MP3, FLAC, Ogg Opus/Vorbis)"
    )


def _wav(head: bytes, total_size: int | None) -> AudioInfo:
    pos = 12
    fmt: tuple[int, int, int, int] | None = None
    while pos + 8 <= len(head):
        chunk_id, size = head[pos : pos + 4], struct.unpack_from("<I", head, pos + 4)[0]
        body = pos + 8
        if chunk_id == b"fmt ":
            if size < 16 or body + 16 > len(head):
                break
            tag, channels, rate, byte_rate = struct.unpack_from("<HHII", head, body)
            if tag == _WAV_EXTENSIBLE and size >= 40 and body + 26 <= len(head):
                tag = struct.unpack_from("<H", head, body + 24)[0]
            fmt = (tag, channels, rate, byte_rate)
        elif chunk_id == b"data" and fmt is not None:
            tag, channels, rate, byte_rate = fmt
            data_size = size
            if total_size is not None and size in (0, 0xFFFFFFFF):  # streamed WAV: size unknown
                data_size = total_size - body
            duration = data_size / byte_rate if byte_rate else None
            return _wav_info(tag, channels, rate, duration)
        pos = body + size + (size & 1)  # chunks are word-aligned
    if fmt is None:
        raise UnsupportedAudioError("WAV file without a readable 'fmt ' chunk")
    tag, channels, rate, _ = fmt
    return _wav_info(tag, channels, rate, None)


def _wav_info(tag: int, channels: int, rate: int, duration: float | None) -> AudioInfo:
    codec = _WAV_CODECS.get(tag)
    if codec is None:
        raise UnsupportedAudioError(f"WAV with codec tag {tag:#06x} is not supported (PCM, µ-law, A-law)")
    if not 1 <= channels <= 8 or rate <= 0:
        raise UnsupportedAudioError(f"WAV header is corrupt ({channels} channels, {rate} Hz)")
    return AudioInfo("wav", codec, "audio/wav", ".wav", channels, rate, duration)


def _flac(head: bytes) -> AudioInfo:
    # The first metadata block must be STREAMINFO (type 0): sample rate 20 bits, channels-1 3 bits.
    if len(head) < 8 + 18 or head[4] & 0x7F != 0:
        raise UnsupportedAudioError("FLAC file without a STREAMINFO block")
    info = head[8 : 8 + 18]
    rate = (info[10] << 12) | (info[11] << 4) | (info[12] >> 4)
    channels = ((info[12] >> 1) & 0x07) + 1
    samples = ((info[13] & 0x0F) << 32) | struct.unpack_from(">I", info, 14)[0]
    duration = samples / rate if rate and samples else None
    return AudioInfo("flac", "flac", "audio/flac", ".flac", channels, rate or None, duration)


def _ogg(head: bytes) -> AudioInfo:
    if len(head) < 27:
        raise UnsupportedAudioError("truncated Ogg page")
    segments = head[26]
    packet = head[27 + segments :]
    if packet[:8] == b"OpusHead" and len(packet) >= 19:
        channels = packet[9]
        rate = struct.unpack_from("<I", packet, 12)[0]
        return AudioInfo("ogg", "opus", "audio/ogg", ".opus", channels, rate or 48000)
    if packet[:7] == b"\x01vorbis" and len(packet) >= 16:
        channels = packet[11]
        rate = struct.unpack_from("<I", packet, 12)[0]
        return AudioInfo("ogg", "vorbis", "audio/ogg", ".ogg", channels, rate)
    raise UnsupportedAudioError("Ogg stream that is neither Opus nor Vorbis audio")


def _mp3_frame_at(head: bytes, pos: int) -> bool:
    if pos + 4 > len(head):
        return False
    b1, b2, b3 = head[pos + 1], head[pos + 2], head[pos + 3]
    return (
        head[pos] == 0xFF
        and (b1 & 0xE0) == 0xE0
        and (b1 >> 3) & 0x03 != 0b01  # reserved MPEG version
        and (b1 >> 1) & 0x03 == 0b01  # layer III
        and (b2 >> 4) not in _MP3_BITRATE_INDEX_BAD
        and (b2 >> 4) != 0  # "free" bitrate: practically never real audio, often random bytes
        and (b2 >> 2) & 0x03 != _MP3_SAMPLE_RATE_BAD
        and (b3 & 0x03) != 0b10  # reserved emphasis
    )


_MP3_BITRATES_V1 = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
_MP3_BITRATES_V2 = (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)
_MP3_RATES = {0b11: (44100, 48000, 32000), 0b10: (22050, 24000, 16000), 0b00: (11025, 12000, 8000)}


def _mp3_frame_length(head: bytes, pos: int) -> int:
    version = (head[pos + 1] >> 3) & 0x03
    bitrate = (_MP3_BITRATES_V1 if version == 0b11 else _MP3_BITRATES_V2)[head[pos + 2] >> 4] * 1000
    rate = _MP3_RATES[version][(head[pos + 2] >> 2) & 0x03]
    padding = (head[pos + 2] >> 1) & 0x01
    return (144 if version == 0b11 else 72) * bitrate // rate + padding


def _mp3(head: bytes) -> AudioInfo:
    pos = 0
    if head[:3] == b"ID3":
        if len(head) < 10:
            raise UnsupportedAudioError("truncated ID3 tag")
        size = (head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9]  # syncsafe integer
        pos = 10 + size
        if pos >= len(head):
            # A huge tag (cover art) hides the first frame from the sniff window: trust the tag.
            return AudioInfo("mp3", "mp3", "audio/mpeg", ".mp3", None)
    # Skip padding zeros, then require a real frame header.
    while pos < len(head) and head[pos] == 0:
        pos += 1
    if not _mp3_frame_at(head, pos):
        raise UnsupportedAudioError("ID3 tag without an MPEG layer III frame after it")
    # Four bytes can match a frame header by chance; a second header exactly one frame later cannot
    # (we check it whenever the sniff window reaches it).
    following = pos + _mp3_frame_length(head, pos)
    if following + 4 <= len(head) and not _mp3_frame_at(head, following):
        raise UnsupportedAudioError("bytes look like an MPEG frame header but no second frame follows")
    channels = 1 if (head[pos + 3] >> 6) == 0b11 else 2
    return AudioInfo("mp3", "mp3", "audio/mpeg", ".mp3", channels)
