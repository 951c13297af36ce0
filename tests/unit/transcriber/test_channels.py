"""Channel analysis: duplicate channels, one party only, bleed — on the committed sample call."""

from __future__ import annotations

import numpy as np
import pytest

from callpipe.models import Word
from callpipe_transcriber.audio import DecodedAudio
from callpipe_transcriber.channels import ChannelLayout, drop_bleed, plan_channels
from callpipe_transcriber.engines.base import EngineSegment

from .transcriber_unit_support import Clip


def _audio(channels: list[np.ndarray], rate: int) -> DecodedAudio:
    samples = np.stack([c.astype(np.float32) / 32768.0 for c in channels])
    return DecodedAudio(
        samples=samples, sample_rate=rate, source_rate=rate, codec="pcm_s16le", container="wav"
    )


@pytest.fixture
def two_party(clip: Clip) -> DecodedAudio:
    return _audio([clip.stereo[:, 0], clip.stereo[:, 1]], clip.rate)


def test_two_parties_on_two_channels_are_separate(two_party: DecodedAudio) -> None:
    plan = plan_channels(two_party)
    assert plan.layout is ChannelLayout.SEPARATE
    assert plan.active == (0, 1)


def test_mono_recording_stored_as_stereo_is_one_signal(clip: Clip) -> None:
    mono = clip.mono
    assert plan_channels(_audio([mono, mono], clip.rate)).layout is ChannelLayout.DUPLICATE
    # Near-identical: the same signal at another gain with a little noise of its own.
    noise = np.random.default_rng(0).normal(0, 30, len(mono))
    quieter = (mono * 0.5 + noise).astype(np.int16)
    assert plan_channels(_audio([mono, quieter], clip.rate)).layout is ChannelLayout.DUPLICATE


def test_silent_or_echo_only_channel_leaves_a_single_party(clip: Clip) -> None:
    agent = clip.stereo[:, 1]
    silent = np.zeros_like(agent)
    plan = plan_channels(_audio([silent, agent], clip.rate))
    assert (plan.layout, plan.active) == (ChannelLayout.SINGLE_PARTY, (1,))
    # Channel 0 carries only the agent's voice leaking in 20 dB lower, plus line noise: still one party.
    noise = np.random.default_rng(1).normal(0, 20, len(agent))
    echo = (np.roll(agent, 80) * 0.1 + noise).astype(np.int16)
    plan = plan_channels(_audio([echo, agent], clip.rate))
    assert (plan.layout, plan.active) == (ChannelLayout.SINGLE_PARTY, (1,))


def test_one_channel_is_mono(clip: Clip) -> None:
    assert plan_channels(_audio([clip.mono], clip.rate)).layout is ChannelLayout.MONO


def _segment(channel: int, words: list[tuple[str, float, float]]) -> EngineSegment:
    ws = tuple(Word(word=w, start_s=a, end_s=b, confidence=0.9) for w, a, b in words)
    return EngineSegment(
        ws[0].start_s, ws[-1].end_s, " ".join(w for w, _, _ in words), channel, f"ch{channel}", 0.9, ws
    )


def test_bleed_words_are_dropped_from_the_quieter_channel(clip: Clip) -> None:
    # Agent (ch1) speaks 0.6-5.6 s; the caller channel gets a -20 dB copy of it (bleed) and the
    # engine "hears" words there. Those words go; the caller's own words (6.1-11 s) stay.
    caller, agent = clip.stereo[:, 0].astype(np.float64), clip.stereo[:, 1].astype(np.float64)
    leaky = (caller + 0.1 * agent).astype(np.int16)
    audio = _audio([leaky, clip.stereo[:, 1]], clip.rate)
    segments = [
        _segment(0, [("thank", 0.7, 1.0), ("you", 1.0, 1.2), ("hi", 6.3, 6.6), ("sarah", 6.6, 7.1)]),
        _segment(1, [("thank", 0.7, 1.0), ("you", 1.0, 1.2)]),
    ]
    kept = drop_bleed(segments, audio)
    assert [(s.channel, s.text) for s in kept] == [(0, "hi sarah"), (1, "thank you")]
    assert kept[0].start_s == 6.3


def test_a_segment_made_only_of_bleed_disappears(clip: Clip) -> None:
    audio = _audio([clip.stereo[:, 0], clip.stereo[:, 1]], clip.rate)
    kept = drop_bleed([_segment(0, [("thank", 0.7, 1.0), ("you", 1.0, 1.2)])], audio)
    assert kept == []
