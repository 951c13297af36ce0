"""Recordings that are not a plain two-party call: one voice only, one or six channels, a very long
file, too many channels. Speech-to-text is not the point here, so the engine is the fake one; the
channel analysis and the diarizer (the real CAM++ network) run for real."""

from __future__ import annotations

import io
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from callpipe.errors import InvalidInputError
from callpipe.models import Role, TranscriptStatus, Word
from callpipe.store import LocalRecordingStore
from callpipe_transcriber.engines.base import EngineSegment
from callpipe_transcriber.stage import TranscriberPorts, transcribe
from tests.unit.transcriber.transcriber_unit_support import Clip, FakeEngine, make_event

PortsFactory = Callable[..., TranscriberPorts]


def _wav(frames: npt.NDArray[np.int16], rate: int = 8000) -> bytes:
    """PCM16 WAV of (frames, channels) in memory."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setnchannels(frames.shape[1])
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(np.ascontiguousarray(frames).astype("<i2").tobytes())
    return buf.getvalue()


def _turn_segments(clip: Clip, channel: int | None, roles: set[Role] | None = None) -> list[EngineSegment]:
    """What an engine would return: one segment per reference turn, words spread over the turn."""
    segments = []
    for turn in clip.turns:
        if roles is not None and turn.role not in roles:
            continue
        tokens = turn.text.split()
        step = (turn.end_s - turn.start_s) / len(tokens)
        words = tuple(
            Word(word=w, start_s=turn.start_s + i * step, end_s=turn.start_s + (i + 1) * step, confidence=0.9)
            for i, w in enumerate(tokens)
        )
        segments.append(EngineSegment(turn.start_s, turn.end_s, turn.text, channel=channel, words=words))
    return segments


def _agent_channel(clip: Clip) -> int:
    return next(cr.channel for cr in clip.channel_roles if cr.role is Role.AGENT)


async def test_mono_recording_of_one_voice_is_single_speaker_with_one_role(
    clip: Clip, make_ports: PortsFactory, store: LocalRecordingStore
) -> None:
    # One side of the call only (a voicemail-like recording): the agent's channel as a mono file.
    agent = clip.stereo[:, [_agent_channel(clip)]]
    engine = FakeEngine(segments=_turn_segments(clip, None, {Role.AGENT}))
    uri = await store.put("CA/one.wav", _wav(agent, clip.rate), "audio/wav")
    transcript = await transcribe(make_event(uri, channels=1), make_ports(engine))
    assert transcript.status is TranscriptStatus.OK
    assert transcript.single_speaker
    assert len({u.speaker for u in transcript.utterances}) == 1
    assert len({u.role for u in transcript.utterances}) == 1
    assert not engine.requests[0].multichannel


async def test_mono_mix_of_two_voices_is_not_single_speaker(
    clip: Clip, make_ports: PortsFactory, store: LocalRecordingStore
) -> None:
    engine = FakeEngine(segments=_turn_segments(clip, None))
    uri = await store.put("CA/two.wav", _wav(clip.mono[:, None], clip.rate), "audio/wav")
    transcript = await transcribe(make_event(uri, channels=1), make_ports(engine))
    assert transcript.status is TranscriptStatus.OK
    assert not transcript.single_speaker
    assert {u.role for u in transcript.utterances} == {Role.AGENT, Role.CALLER}


async def test_six_channel_file_with_one_live_channel_is_transcribed_as_that_party(
    clip: Clip, make_ports: PortsFactory, store: LocalRecordingStore
) -> None:
    # A conference-bridge export: six channels, the agent on channel 4, line hiss on the rest.
    rng = np.random.default_rng(1)
    six = rng.normal(0, 3, size=(len(clip.stereo), 6)).astype(np.int16)
    six[:, 4] = clip.stereo[:, _agent_channel(clip)]
    engine = FakeEngine(segments=_turn_segments(clip, 4, {Role.AGENT}))
    uri = await store.put("CA/six.wav", _wav(six, clip.rate), "audio/wav")
    transcript = await transcribe(make_event(uri, channels=6), make_ports(engine))
    assert transcript.status is TranscriptStatus.OK
    assert transcript.channel_count == 6
    assert engine.requests[0].multichannel
    assert engine.requests[0].channels == (4,)
    assert transcript.single_speaker
    assert {u.channel for u in transcript.utterances} == {4}
    assert len({u.role for u in transcript.utterances}) == 1


async def test_two_party_stereo_is_not_single_speaker(
    clip: Clip, make_ports: PortsFactory, store: LocalRecordingStore
) -> None:
    segments = [
        EngineSegment(
            s.start_s, s.end_s, s.text, channel=_agent_channel(clip) if r else 1 - _agent_channel(clip)
        )
        for s, r in zip(_turn_segments(clip, None), (t.role is Role.AGENT for t in clip.turns), strict=True)
    ]
    engine = FakeEngine(segments=segments)
    uri = await store.put("CA/dual.wav", _wav(clip.stereo, clip.rate), "audio/wav")
    transcript = await transcribe(make_event(uri, roles=clip.channel_roles), make_ports(engine))
    assert transcript.status is TranscriptStatus.OK
    assert not transcript.single_speaker
    assert {u.role for u in transcript.utterances} == {Role.AGENT, Role.CALLER}


def _hour_of_silence_and_tone(rate: int = 8000, seconds: int = 3600) -> bytes:
    """An hour at 8 kHz (57.6 MB as PCM16): low hiss with a 2 s 1 kHz tone every 5 minutes."""
    rng = np.random.default_rng(2)
    frames = rng.normal(0, 3, size=seconds * rate).astype(np.int16)
    t = np.arange(2 * rate) / rate
    tone = (8000 * np.sin(2 * np.pi * 1000 * t)).astype(np.int16)
    for start in range(60, seconds - 2, 300):
        frames[start * rate : start * rate + len(tone)] = tone
    return _wav(frames[:, None], rate)


@pytest.fixture(scope="module")
def hour_wav() -> bytes:
    return _hour_of_silence_and_tone()


async def test_hour_long_file_over_the_configured_limit_is_refused_with_the_reason(
    hour_wav: bytes, make_ports: PortsFactory, store: LocalRecordingStore
) -> None:
    engine = FakeEngine()
    uri = await store.put("CA/hour.wav", hour_wav, "audio/wav")
    with pytest.raises(InvalidInputError, match=r"longer than the 1800 s limit.*MAX_AUDIO_DURATION_S"):
        await transcribe(make_event(uri, channels=1), make_ports(engine, max_audio_duration_s=1800.0))
    assert engine.requests == []


async def test_hour_long_file_within_the_limit_gets_a_status(
    hour_wav: bytes, make_ports: PortsFactory, store: LocalRecordingStore
) -> None:
    # Tones are not speech: the engine hears nothing, the transcript says so (the default limit is 2 h).
    engine = FakeEngine(segments=[])
    uri = await store.put("CA/hour.wav", hour_wav, "audio/wav")
    transcript = await transcribe(make_event(uri, channels=1), make_ports(engine))
    assert transcript.status is TranscriptStatus.NO_SPEECH
    assert transcript.audio_duration_s == pytest.approx(3600.0, abs=0.1)
    assert len(engine.requests) == 1


async def test_more_channels_than_handled_is_refused_with_the_reason(
    make_ports: PortsFactory, store: LocalRecordingStore, tmp_path: Path
) -> None:
    rng = np.random.default_rng(3)
    many = rng.normal(0, 2000, size=(8000, 12)).astype(np.int16)
    engine = FakeEngine()
    uri = await store.put("CA/many.wav", _wav(many), "audio/wav")
    with pytest.raises(InvalidInputError, match="channel"):
        await transcribe(make_event(uri, channels=12), make_ports(engine))
    assert engine.requests == []


async def test_mono_talk_over_reaches_the_transcript_as_overlap_spans(
    clip: Clip, make_ports: PortsFactory, store: LocalRecordingStore
) -> None:
    # The caller's reply starts 3 s early, over the end of the agent's greeting, in one mono mix:
    # each utterance carries one voice, so only the diarizer's spans can show the talk-over.
    greeting, reply = clip.turns[0], clip.turns[1]
    agent_ch = _agent_channel(clip)
    rate = clip.rate
    piece = clip.stereo[int(reply.start_s * rate) : int(reply.end_s * rate), 1 - agent_ch].astype(np.int32)
    start = int((reply.start_s - 3.0) * rate)
    mixed = clip.stereo[:, agent_ch].astype(np.int32)
    mixed[start : start + len(piece)] += piece
    mono = np.clip(mixed, -32768, 32767).astype(np.int16)[:, None]
    engine = FakeEngine(segments=_turn_segments(clip, None))
    uri = await store.put("CA/talkover.wav", _wav(mono, rate), "audio/wav")
    transcript = await transcribe(make_event(uri, channels=1), make_ports(engine))
    talk_over = (reply.start_s - 3.0, greeting.end_s)
    covered = sum(
        max(0.0, min(o.end_s, talk_over[1]) - max(o.start_s, talk_over[0])) for o in transcript.overlaps
    )
    assert not transcript.single_speaker
    assert covered >= 0.5 * (talk_over[1] - talk_over[0])


async def test_one_voice_has_no_overlap_spans(
    clip: Clip, make_ports: PortsFactory, store: LocalRecordingStore
) -> None:
    agent = clip.stereo[:, [_agent_channel(clip)]]
    engine = FakeEngine(segments=_turn_segments(clip, None, {Role.AGENT}))
    uri = await store.put("CA/one-voice.wav", _wav(agent, clip.rate), "audio/wav")
    transcript = await transcribe(make_event(uri, channels=1), make_ports(engine))
    assert transcript.single_speaker and transcript.overlaps == []
