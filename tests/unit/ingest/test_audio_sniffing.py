"""Audio sniffing of MP3, FLAC and Ogg (Opus, Vorbis): real encoder output and hand-built headers.

Real files come from the encoders FFmpeg ships inside PyAV (libmp3lame, flac, libopus): PyAV is
installed with the transcriber extra, which decodes these same files later, so what the sniffer
accepts here is what the transcriber will be handed. Hand-built headers pin the byte-level rules
(frame sync, STREAMINFO, OpusHead) and the refusals, without any encoder.
"""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Callable

import httpx
import numpy as np
import pytest

from callpipe.avro import AvroSerde, LocalSchemaRegistry
from callpipe.models import RecordingReady
from callpipe.store import LocalRecordingStore
from callpipe_ingest.audio import SNIFF_BYTES, AudioInfo, UnsupportedAudioError, sniff_audio
from tests.unit.ingest.ingest_support import API_TOKEN, MemorySender

av = pytest.importorskip("av", reason="PyAV (transcriber extra) encodes the real test files")


def encode(container: str, codec: str, rate: int, channels: int, seconds: float = 0.5) -> bytes:
    """``seconds`` of a 440 Hz tone encoded by FFmpeg's own encoder, in memory."""
    layout = "mono" if channels == 1 else "stereo"
    t = np.arange(int(rate * seconds)) / rate
    tone = (np.sin(2 * np.pi * 440 * t) * 0.3 * 32767).astype(np.int16)
    packed = np.repeat(tone, channels).reshape(1, -1)  # s16 interleaved: L R L R …
    buf = io.BytesIO()
    with av.open(buf, "w", format=container) as out:
        stream = out.add_stream(codec, rate=rate, layout=layout)
        frame = av.AudioFrame.from_ndarray(packed, format="s16", layout=layout)
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    return buf.getvalue()


def probe(data: bytes) -> tuple[str, int, int]:
    """What FFmpeg itself reads from the file: codec, channels, sample rate."""
    with av.open(io.BytesIO(data)) as f:
        stream = f.streams.audio[0]
        return stream.codec_context.name, stream.channels, stream.sample_rate


def sniff(data: bytes) -> AudioInfo:
    return sniff_audio(data[:SNIFF_BYTES], len(data))


# -- real encoder output -------------------------------------------------------------------------


@pytest.mark.parametrize(("rate", "channels"), [(44100, 2), (22050, 1), (8000, 1)])
def test_mp3_from_lame_is_accepted_with_its_channel_count(rate: int, channels: int) -> None:
    data = encode("mp3", "libmp3lame", rate, channels)
    assert data[:3] == b"ID3"  # FFmpeg's muxer writes an ID3v2 tag first: the tag path is exercised
    info = sniff(data)
    assert (info.format, info.codec, info.content_type, info.extension) == (
        "mp3",
        "mp3",
        "audio/mpeg",
        ".mp3",
    )
    assert info.channels == channels == probe(data)[1]


def test_mp3_without_id3_tag_is_accepted() -> None:
    data = encode("mp3", "libmp3lame", 44100, 2)
    tag_size = 10 + ((data[6] << 21) | (data[7] << 14) | (data[8] << 7) | data[9])
    bare = data[tag_size:]
    assert bare[0] == 0xFF  # starts on a frame sync
    assert sniff(bare).format == "mp3"
    assert sniff(bare).channels == 2


@pytest.mark.parametrize(("rate", "channels"), [(8000, 2), (16000, 1), (44100, 2)])
def test_flac_reports_rate_channels_and_duration(rate: int, channels: int) -> None:
    data = encode("flac", "flac", rate, channels, seconds=0.5)
    info = sniff(data)
    assert (info.format, info.codec, info.content_type, info.extension) == (
        "flac",
        "flac",
        "audio/flac",
        ".flac",
    )
    assert (info.channels, info.sample_rate) == (channels, rate) == probe(data)[1:]
    assert info.duration_s == pytest.approx(0.5, abs=0.01)


@pytest.mark.parametrize(("rate", "channels"), [(48000, 2), (16000, 1), (8000, 1)])
def test_ogg_opus_reports_channels_and_input_rate(rate: int, channels: int) -> None:
    data = encode("ogg", "libopus", rate, channels)
    info = sniff(data)
    assert (info.format, info.codec, info.content_type, info.extension) == (
        "ogg",
        "opus",
        "audio/ogg",
        ".opus",
    )
    assert probe(data)[0] == "opus"
    assert info.channels == channels == probe(data)[1]
    # OpusHead keeps the rate of the input (Opus itself always decodes at 48 kHz).
    assert info.sample_rate == rate


@pytest.mark.parametrize(
    ("data", "content_type", "extension"),
    [
        (lambda: encode("mp3", "libmp3lame", 22050, 2), "audio/mpeg", ".mp3"),
        (lambda: encode("flac", "flac", 8000, 2), "audio/flac", ".flac"),
        (lambda: encode("ogg", "libopus", 48000, 2), "audio/ogg", ".opus"),
    ],
)
async def test_upload_api_accepts_real_files_and_stores_them_unchanged(
    client: httpx.AsyncClient,
    store: LocalRecordingStore,
    sender: MemorySender,
    data: Callable[[], bytes],
    content_type: str,
    extension: str,
) -> None:
    audio: bytes = data()
    response = await client.post(
        "/recordings",
        # A lying client name and type: the bytes decide.
        files={"file": ("upload.bin", audio, "application/octet-stream")},
        data={"metadata": json.dumps({"channel_roles": ["caller", "agent"]})},
        headers={"Authorization": f"Bearer {API_TOKEN}"},
    )
    assert response.status_code == 201, response.text
    assert "audio_uri" not in response.json()  # the store's absolute path stays on the server
    assert response.json()["status"] == "published"
    [(_, _, value)] = sender.records
    event = AvroSerde(
        RecordingReady, LocalSchemaRegistry.from_directory(), "callpipe.recordings-value"
    ).deserialize(value)
    uri = event.audio_uri
    assert uri.endswith(extension)
    assert await store.get(uri) == audio
    assert event.content_type == content_type
    assert event.channel_count == 2


# -- hand-built headers --------------------------------------------------------------------------


def mp3_frames(count: int = 3, *, mono: bool = False, layer_bits: int = 0b01) -> bytes:
    """MPEG-1 frames at 128 kbit/s, 44.1 kHz: 144 * 128000 / 44100 = 417 bytes each."""
    header = bytes([0xFF, 0xE0 | (0b11 << 3) | (layer_bits << 1) | 1, 0x90, 0xC0 if mono else 0x00])
    return (header + b"\x00" * (417 - 4)) * count


def id3v2(payload_size: int) -> bytes:
    size = bytes((payload_size >> shift) & 0x7F for shift in (21, 14, 7, 0))  # syncsafe
    return b"ID3\x04\x00\x00" + size + b"\x00" * payload_size


def test_hand_built_mp3_frames_mono_and_stereo() -> None:
    assert sniff(mp3_frames()).channels == 2
    assert sniff(mp3_frames(mono=True)).channels == 1
    assert sniff(id3v2(300) + mp3_frames()).channels == 2
    # Padding zeros between the tag and the first frame are allowed (some taggers write them).
    assert sniff(id3v2(20) + b"\x00" * 64 + mp3_frames()).format == "mp3"


def test_id3_tag_larger_than_the_sniff_window_is_trusted_as_mp3() -> None:
    info = sniff(id3v2(SNIFF_BYTES + 1000) + mp3_frames())
    assert info.format == "mp3"
    assert info.channels is None  # the header could not be reached: unknown, not guessed


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (mp3_frames(layer_bits=0b10), "MPEG layer II is not layer III"),
        (mp3_frames()[:4] + b"\x42" * 1000, "a lone frame-like header without a second frame"),
        (id3v2(100) + b"not audio" * 50, "an ID3 tag on something else"),
        (b"\xff\xfb" * 4, "sync bytes only"),
    ],
)
def test_mp3_lookalikes_are_refused(data: bytes, why: str) -> None:
    with pytest.raises(UnsupportedAudioError):
        sniff(data)


def flac_header(rate: int, channels: int, bits: int, samples: int, *, block_type: int = 0) -> bytes:
    # STREAMINFO: min/max block size, min/max frame size, then 20 bits rate, 3 bits channels-1,
    # 5 bits bits-per-sample-1, 36 bits total samples; then the MD5 of the audio.
    packed = (rate << 44) | ((channels - 1) << 41) | ((bits - 1) << 36) | samples
    info = struct.pack(">HH", 4096, 4096) + b"\x00" * 6 + packed.to_bytes(8, "big") + b"\x00" * 16
    return b"fLaC" + bytes([0x80 | block_type]) + len(info).to_bytes(3, "big") + info


def test_hand_built_flac_streaminfo() -> None:
    info = sniff(flac_header(8000, 2, 16, 4000))
    assert (info.channels, info.sample_rate, info.duration_s) == (2, 8000, 0.5)
    info = sniff(flac_header(96000, 1, 24, 0))  # unknown length (streamed encoder)
    assert (info.channels, info.sample_rate, info.duration_s) == (1, 96000, None)


def test_flac_without_streaminfo_first_is_refused() -> None:
    with pytest.raises(UnsupportedAudioError, match="STREAMINFO"):
        sniff(flac_header(8000, 2, 16, 4000, block_type=4))  # VORBIS_COMMENT first: invalid
    with pytest.raises(UnsupportedAudioError):
        sniff(b"fLaC\x00")


def _ogg_crc(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7 if crc & 0x80000000 else crc << 1) & 0xFFFFFFFF
    return crc


def ogg_page(packet: bytes, serial: int = 0x1234) -> bytes:
    """One beginning-of-stream Ogg page holding ``packet`` (< 255 bytes), with a valid CRC."""
    header = b"OggS" + bytes([0, 0x02]) + struct.pack("<qII", 0, serial, 0) + b"\x00\x00\x00\x00"
    page = header + bytes([1, len(packet)]) + packet
    return page[:22] + struct.pack("<I", _ogg_crc(page)) + page[26:]


def opus_head(channels: int, rate: int) -> bytes:
    return b"OpusHead" + struct.pack("<BBHIhB", 1, channels, 312, rate, 0, 0)


def test_hand_built_ogg_page_crc_matches_ffmpeg() -> None:
    # Our page builder writes what FFmpeg writes: the real first page re-built byte for byte.
    real = encode("ogg", "libopus", 48000, 2)
    assert real[26] == 1  # one segment: the 19-byte OpusHead
    packet = real[28 : 28 + real[27]]
    assert packet[:8] == b"OpusHead"
    serial = struct.unpack_from("<I", real, 14)[0]
    assert ogg_page(packet, serial) == real[: 28 + len(packet)]  # same bytes, CRC included


def test_hand_built_ogg_opus_and_vorbis() -> None:
    info = sniff(ogg_page(opus_head(2, 8000)))
    assert (info.codec, info.channels, info.sample_rate) == ("opus", 2, 8000)
    # Input rate 0 means "unspecified": Opus decodes at 48 kHz.
    assert sniff(ogg_page(opus_head(1, 0))).sample_rate == 48000
    vorbis_id = b"\x01vorbis" + struct.pack("<IBIiiiBB", 0, 2, 44100, 0, 128000, 0, 0xB8, 1)
    info = sniff(ogg_page(vorbis_id))
    assert (info.codec, info.extension, info.channels, info.sample_rate) == ("vorbis", ".ogg", 2, 44100)


@pytest.mark.parametrize(
    "packet",
    [
        b"\x80theora" + b"\x00" * 40,  # video
        b"Speex   " + b"\x00" * 72,  # Speex: not among the accepted codecs
        b"OpusTags" + b"\x00" * 20,  # a later Opus packet, not the identification header
    ],
)
def test_ogg_without_opus_or_vorbis_audio_is_refused(packet: bytes) -> None:
    with pytest.raises(UnsupportedAudioError, match="neither Opus nor Vorbis"):
        sniff(ogg_page(packet))
    with pytest.raises(UnsupportedAudioError):
        sniff(b"OggS\x00\x02")  # truncated page
