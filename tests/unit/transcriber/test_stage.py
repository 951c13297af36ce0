"""The stage function ``transcribe()`` end to end: real audio through the real faster-whisper
engine (dual-channel µ-law and mono mix), and a fake engine for the edge cases (bad input,
silence, archiving, channel maps, segment splitting)."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from callpipe.errors import InvalidInputError
from callpipe.models import ChannelRole, Direction, Role, TranscriptStatus, Word
from callpipe.store import LocalRecordingStore
from callpipe_bench.transcriber_eval import role_accuracy
from callpipe_bench.wer import wer
from callpipe_transcriber.engines.base import EngineSegment
from callpipe_transcriber.engines.factory import whisper_options
from callpipe_transcriber.engines.whisper import WhisperEngine
from callpipe_transcriber.settings import TranscriberSettings
from callpipe_transcriber.stage import TranscriberPorts, transcribe
from tests.unit.transcriber.transcriber_unit_support import Clip, FakeEngine, encode, make_event

PortsFactory = Callable[..., TranscriberPorts]


# ---- real engine -----------------------------------------------------------------------------
@pytest.fixture(scope="session")
def whisper(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WhisperEngine]:
    """The offline default engine exactly as the service builds it from default settings."""
    settings = TranscriberSettings(model_cache_dir=tmp_path_factory.mktemp("models"))
    engine = WhisperEngine(whisper_options(settings))
    yield engine
    asyncio.run(engine.aclose())


async def test_dual_channel_call_through_real_engine(
    clip: Clip, whisper: WhisperEngine, make_ports: PortsFactory, store: LocalRecordingStore, tmp_path: Path
) -> None:
    # 8 kHz µ-law: the telephone format Twilio records; resampled to 16 kHz for the engine.
    uri = await store.put("CA1/RE1.wav", clip.wav(encoding="mulaw", tmp=tmp_path), "audio/wav")
    event = make_event(uri, roles=clip.channel_roles)
    transcript = await transcribe(event, make_ports(whisper))

    assert transcript.status is TranscriptStatus.OK
    assert transcript.engine == "faster-whisper"
    assert transcript.model == whisper.model
    assert transcript.channel_count == 2
    assert transcript.audio_duration_s == pytest.approx(16.0, abs=0.05)
    assert transcript.language == "en"
    assert transcript.audio_uri == uri  # already in the store: not archived a second time
    starts = [u.start_s for u in transcript.utterances]
    assert starts == sorted(starts)
    # Roles come from the event's channel map: every word lands on the right party.
    right, total = role_accuracy(clip.as_call(), transcript)
    assert total >= 30
    assert right == total
    assert not transcript.roles_low_confidence
    assert transcript.role_confidence == 1.0
    assert {u.channel for u in transcript.utterances} == {0, 1}
    assert transcript.utterances[0].role is Role.AGENT
    assert "calling" in transcript.utterances[0].text.lower()
    assert wer(clip.reference_text, " ".join(u.text for u in transcript.utterances)) <= 0.35
    for utt in transcript.utterances:
        assert utt.words, "word timestamps are requested from the engine"
        assert utt.start_s <= utt.words[0].start_s <= utt.words[-1].end_s <= utt.end_s + 0.01
        assert utt.end_s <= transcript.audio_duration_s + 0.5
        assert utt.confidence is not None and 0 < utt.confidence <= 1
    stages = {t.stage for t in transcript.timings}
    assert {"transcriber.download", "transcriber.decode", "transcriber.stt", "transcriber.total"} <= stages


async def test_mono_mix_through_real_engine_gets_diarized_roles(
    clip: Clip, whisper: WhisperEngine, make_ports: PortsFactory, store: LocalRecordingStore, tmp_path: Path
) -> None:
    uri = await store.put("CA2/RE2.wav", clip.wav(mono=True, tmp=tmp_path), "audio/wav")
    transcript = await transcribe(make_event(uri, channels=1), make_ports(whisper))

    assert transcript.status is TranscriptStatus.OK
    assert transcript.channel_count == 1
    assert all(u.channel is None for u in transcript.utterances)
    assert {u.role for u in transcript.utterances} == {Role.AGENT, Role.CALLER}
    assert len({u.speaker for u in transcript.utterances}) == 2
    right, total = role_accuracy(clip.as_call(), transcript)
    assert right / total >= 0.9, (right, total)
    assert transcript.utterances[0].role is Role.AGENT  # the greeting
    assert transcript.role_confidence is not None
    assert "transcriber.diarize" in {t.stage for t in transcript.timings}
    assert wer(clip.reference_text, " ".join(u.text for u in transcript.utterances)) <= 0.35


# ---- edge cases (fake engine) ----------------------------------------------------------------
def _silent_wav(tmp: Path, seconds: float = 3.0, channels: int = 2) -> bytes:
    from callpipe_tools.synthetic.calls import write_wav

    path = tmp / "silence.wav"
    # Line noise far below speech level, like an empty call leg.
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 3, size=(int(seconds * 8000), channels)).astype(np.int16)
    write_wav(path, noise, 8000)
    return path.read_bytes()


async def test_silent_audio_is_no_speech_without_calling_the_engine(
    make_ports: PortsFactory, store: LocalRecordingStore, tmp_path: Path
) -> None:
    engine = FakeEngine(segments=[EngineSegment(0.0, 1.0, "should not be used", channel=0)])
    uri = await store.put("CA/RE.wav", _silent_wav(tmp_path), "audio/wav")
    transcript = await transcribe(make_event(uri), make_ports(engine))
    assert transcript.status is TranscriptStatus.NO_SPEECH
    assert transcript.utterances == []
    assert transcript.audio_duration_s == pytest.approx(3.0, abs=0.01)
    assert engine.requests == []


async def test_engine_hearing_nothing_is_no_speech(
    clip: Clip, make_ports: PortsFactory, store: LocalRecordingStore, tmp_path: Path
) -> None:
    engine = FakeEngine(segments=[EngineSegment(1.0, 2.0, "   ", channel=1)])
    uri = await store.put("CA/RE.wav", clip.wav(tmp=tmp_path), "audio/wav")
    transcript = await transcribe(make_event(uri, roles=clip.channel_roles), make_ports(engine))
    assert transcript.status is TranscriptStatus.NO_SPEECH
    assert len(engine.requests) == 1


def _truncated_wav(clip: Clip, tmp: Path) -> bytes:
    data: bytes = clip.wav(tmp=tmp)
    return data[: len(data) // 2]  # an upload cut off half way: header says more than is there


def _bad_header_wav(clip: Clip, tmp: Path) -> bytes:
    data = bytearray(clip.wav(tmp=tmp))
    struct.pack_into("<H", data, 20, 0x1234)  # fmt chunk: unknown codec tag
    return bytes(data)


BAD_INPUTS = {
    "zero-length": lambda clip, tmp: b"",
    "garbage": lambda clip, tmp: bytes(range(256)) * 64,
    "zeros": lambda clip, tmp: b"\x00" * 4096,
    "header-only": lambda clip, tmp: clip.wav(tmp=tmp)[:44],
    "truncated-wav": _truncated_wav,
    "truncated-flac": lambda clip, tmp: (lambda d: d[: len(d) // 2])(
        encode(clip.stereo, 8000, "flac", "flac")
    ),
    "truncated-mp3-head": lambda clip, tmp: encode(clip.stereo, 8000, "mp3", "libmp3lame")[:200],
    "undecodable-codec": _bad_header_wav,
    "not-audio": lambda clip, tmp: b"%PDF-1.7\n" + b"x" * 2000,
}


@pytest.mark.parametrize("kind", list(BAD_INPUTS))
async def test_bad_input_is_invalid_input_error(
    kind: str, clip: Clip, make_ports: PortsFactory, store: LocalRecordingStore, tmp_path: Path
) -> None:
    engine = FakeEngine()
    uri = await store.put("CA/RE.bin", BAD_INPUTS[kind](clip, tmp_path), None)
    with pytest.raises(InvalidInputError) as info:
        await transcribe(make_event(uri, content_type=None), make_ports(engine))
    assert str(info.value)  # the reason goes to the dead-letter headers
    assert engine.requests == []


async def test_https_audio_is_archived_and_the_transcript_points_at_the_archive(
    clip: Clip, make_ports: PortsFactory, store: LocalRecordingStore, tmp_path: Path
) -> None:
    audio = clip.wav(tmp=tmp_path)
    served: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        served.append(str(request.url))
        return httpx.Response(200, content=audio, headers={"content-type": "audio/x-wav"})

    engine = FakeEngine(segments=[EngineSegment(0.7, 5.0, "Thank you for calling.", channel=1)])
    event = make_event(
        "https://media.example.com/rec/RE9?sig=abc", roles=clip.channel_roles, content_type=None
    )
    transcript = await transcribe(event, make_ports(engine, httpx.MockTransport(handler)))
    assert served == ["https://media.example.com/rec/RE9?sig=abc"]
    assert transcript.audio_uri.startswith("file://")
    assert await store.get(transcript.audio_uri) == audio
    assert transcript.audio_uri.endswith("/CA-test/RE-test.wav")
    assert "transcriber.archive" in {t.stage for t in transcript.timings}
    # The engine got the bytes as served plus the decoded 16 kHz channels.
    request = engine.requests[0]
    assert request.data == audio
    assert request.multichannel
    assert request.audio.sample_rate == 16000 and request.audio.source_rate == 8000


def _words(text: str, start: float, step: float = 0.3) -> tuple[Word, ...]:
    return tuple(
        Word(
            word=w,
            start_s=round(start + i * step, 3),
            end_s=round(start + i * step + 0.25, 3),
            confidence=0.9,
        )
        for i, w in enumerate(text.split())
    )


def _channel_segment(channel: int, *pieces: tuple[float, str]) -> EngineSegment:
    words = tuple(w for start, text in pieces for w in _words(text, start))
    return EngineSegment(
        start_s=words[0].start_s,
        end_s=words[-1].end_s,
        text=" ".join(w.word for w in words),
        channel=channel,
        confidence=0.9,
        words=words,
    )


async def test_long_channel_segments_are_cut_at_pauses_and_interleaved(
    clip: Clip, make_ports: PortsFactory, store: LocalRecordingStore, tmp_path: Path
) -> None:
    # Whisper returns one long segment per channel; the stage cuts it where the words pause so
    # the turns of both parties interleave by start time.
    engine = FakeEngine(
        segments=[
            _channel_segment(1, (0.6, "thank you for calling"), (11.5, "I am sorry about that")),
            _channel_segment(0, (6.1, "I was charged twice")),
        ]
    )
    uri = await store.put("CA/RE.wav", clip.wav(tmp=tmp_path), "audio/wav")
    transcript = await transcribe(make_event(uri, roles=clip.channel_roles), make_ports(engine))
    assert [(u.role, u.text) for u in transcript.utterances] == [
        (Role.AGENT, "thank you for calling"),
        (Role.CALLER, "I was charged twice"),
        (Role.AGENT, "I am sorry about that"),
    ]
    assert [u.channel for u in transcript.utterances] == [1, 0, 1]
    assert transcript.utterances[2].start_s == 11.5


@pytest.mark.parametrize(
    ("direction", "roles", "expected"),
    [
        # Twilio dual-channel, inbound <Dial>: ch0 = parent leg (caller), ch1 = dialed agent.
        (Direction.INBOUND, [], {0: Role.CALLER, 1: Role.AGENT}),
        # Outbound from the agent's system: ch0 = agent, ch1 = the dialed customer.
        (Direction.OUTBOUND, [], {0: Role.AGENT, 1: Role.CALLER}),
        # An explicit map from the event wins over the convention.
        (
            Direction.INBOUND,
            [ChannelRole(channel=0, role=Role.AGENT), ChannelRole(channel=1, role=Role.CALLER)],
            {0: Role.AGENT, 1: Role.CALLER},
        ),
    ],
)
async def test_channel_roles_from_event_or_twilio_convention(
    direction: Direction,
    roles: list[ChannelRole],
    expected: dict[int, Role],
    clip: Clip,
    make_ports: PortsFactory,
    store: LocalRecordingStore,
    tmp_path: Path,
) -> None:
    # Word times where each channel's party really speaks in the clip (agent ch1 0.6-5.6 s,
    # caller ch0 6.1-11.0 s): a word where the other channel is louder is bleed and dropped.
    engine = FakeEngine(
        segments=[_channel_segment(0, (6.2, "hello there")), _channel_segment(1, (1.0, "hi"))]
    )
    uri = await store.put("CA/RE.wav", clip.wav(tmp=tmp_path), "audio/wav")
    transcript = await transcribe(make_event(uri, roles=roles, direction=direction), make_ports(engine))
    assert {u.channel: u.role for u in transcript.utterances} == expected
    assert not transcript.roles_low_confidence


async def test_unmapped_channels_get_roles_from_cues_and_flag_when_unsure(
    clip: Clip, make_ports: PortsFactory, store: LocalRecordingStore, tmp_path: Path
) -> None:
    uri = await store.put("CA/RE.wav", clip.wav(tmp=tmp_path), "audio/wav")
    cued = FakeEngine(
        segments=[
            _channel_segment(0, (6.2, "hello I want to cancel my contract")),
            _channel_segment(1, (0.7, "thank you for calling my name is Sam how can I help")),
        ]
    )
    transcript = await transcribe(make_event(uri, direction=Direction.UNKNOWN), make_ports(cued))
    assert {u.channel: u.role for u in transcript.utterances} == {0: Role.CALLER, 1: Role.AGENT}
    assert not transcript.roles_low_confidence

    bare = FakeEngine(segments=[_channel_segment(0, (6.2, "yes")), _channel_segment(1, (1.0, "okay"))])
    unsure = await transcribe(make_event(uri, direction=Direction.UNKNOWN), make_ports(bare))
    assert unsure.roles_low_confidence  # never silently guessed
    assert unsure.role_confidence is not None and unsure.role_confidence < 0.7


async def test_engine_diarized_mono_gets_roles_by_cues(
    clip: Clip, make_ports: PortsFactory, store: LocalRecordingStore, tmp_path: Path
) -> None:
    # Deepgram-style: the engine labelled speakers itself; the caller happens to speak first.
    engine = FakeEngine(
        diarized=True,
        segments=[
            EngineSegment(
                0.5, 3.0, "Hello? My parcel has not arrived.", speaker="spk0", words=_words("a b", 0.5)
            ),
            EngineSegment(3.5, 7.0, "You have reached Wingtip, my name is James.", speaker="spk1"),
        ],
    )
    uri = await store.put("CA/RE.wav", clip.wav(mono=True, tmp=tmp_path), "audio/wav")
    transcript = await transcribe(make_event(uri, channels=1), make_ports(engine))
    assert [(u.speaker, u.role) for u in transcript.utterances] == [
        ("spk0", Role.CALLER),
        ("spk1", Role.AGENT),
    ]
    assert not engine.requests[0].multichannel
    assert "transcriber.diarize" not in {t.stage for t in transcript.timings}


# ---- formats ---------------------------------------------------------------------------------
FORMATS = {
    "mp3": ("mp3", "libmp3lame"),
    "flac": ("flac", "flac"),
    "ogg-opus": ("ogg", "libopus"),
}


def _envelope(x: np.ndarray, rate: int) -> np.ndarray:
    hop = rate // 50
    n = len(x) // hop
    env: np.ndarray = np.sqrt(np.mean(x[: n * hop].astype(np.float64).reshape(n, hop) ** 2, axis=1))
    return env


@pytest.mark.parametrize("fmt", [*FORMATS, "wav-mulaw-8k"])
async def test_formats_decode_to_the_same_two_parties(
    fmt: str, clip: Clip, make_ports: PortsFactory, store: LocalRecordingStore, tmp_path: Path
) -> None:
    if fmt == "wav-mulaw-8k":
        data = clip.wav(encoding="mulaw", tmp=tmp_path)
    else:
        data = encode(clip.stereo, clip.rate, *FORMATS[fmt])
    engine = FakeEngine(segments=[EngineSegment(0.7, 5.0, "Thank you for calling.", channel=1)])
    uri = await store.put(f"CA/RE.{fmt}", data, None)
    transcript = await transcribe(
        make_event(uri, roles=clip.channel_roles, content_type=None), make_ports(engine)
    )
    assert transcript.status is TranscriptStatus.OK
    assert transcript.audio_duration_s == pytest.approx(16.0, abs=0.1)  # codec padding trimmed or tiny
    audio = engine.requests[0].audio
    assert audio.channel_count == 2 and audio.sample_rate == 16000
    assert audio.source_rate == (48000 if fmt == "ogg-opus" else 8000)  # Opus always decodes at 48 kHz
    # Each decoded channel follows the original party's loudness over time (channels not swapped,
    # not mixed): correlate 20 ms envelopes with the source, allowing codec delay of up to 60 ms.
    for ch in (0, 1):
        original = _envelope(clip.stereo[:, ch], clip.rate)
        decoded = _envelope(audio.channel(ch), audio.sample_rate)
        best = max(
            np.corrcoef(original[: len(original) - 3], decoded[lag : lag + len(original) - 3])[0, 1]
            for lag in range(4)
        )
        other = np.corrcoef(
            original[: len(original) - 3], _envelope(audio.channel(1 - ch), 16000)[: len(original) - 3]
        )[0, 1]
        assert best > 0.9, (fmt, ch, best)
        assert other < 0.5, (fmt, ch, other)
