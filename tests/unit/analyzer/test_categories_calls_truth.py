"""The channel truth of ``bench categories-calls``: speech runs, silence, talk-over, dead air."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from callpipe_bench.categories_calls import channel_activity, insert_dead_air, longest_silence, talk_overs

RATE = 8000


def _stereo(
    caller: list[tuple[float, float]], agent: list[tuple[float, float]], seconds: float
) -> npt.NDArray[np.float32]:
    """Two channels of faint noise with loud tones where each party speaks, and a bleed of the
    other party 45 dB down (as measured on the real calls)."""
    rng = np.random.default_rng(1)
    n = int(seconds * RATE)
    out = rng.normal(0, 1e-4, (2, n)).astype(np.float32)
    t = np.arange(n) / RATE
    for ch, spans in enumerate((caller, agent)):
        for start, end in spans:
            a, b = int(start * RATE), int(end * RATE)
            voice = 0.3 * np.sin(2 * np.pi * (220 + 100 * ch) * t[a:b])
            out[ch, a:b] += voice
            out[1 - ch, a:b] += voice * 10 ** (-45 / 20)
    return out


def test_runs_follow_each_party_and_ignore_the_bleed() -> None:
    caller, agent = channel_activity(_stereo([(1, 4), (9, 12)], [(5, 8)], 13), RATE)
    assert [(round(s, 1), round(e, 1)) for s, e in caller] == [(1.0, 4.0), (9.0, 12.0)]
    assert [(round(s, 1), round(e, 1)) for s, e in agent] == [(5.0, 8.0)]


def test_double_talk_counts_for_both_channels() -> None:
    caller, agent = channel_activity(_stereo([(1, 6)], [(3, 5)], 7), RATE)
    assert talk_overs(agent, caller) == 1
    assert talk_overs(caller, agent) == 0


def test_back_channels_and_turns_at_the_end_are_not_talk_over() -> None:
    caller = [(0.0, 10.0)]
    assert talk_overs([(4.0, 4.6)], caller) == 0  # "mm-hmm": shorter than a turn
    assert talk_overs([(9.7, 12.0)], caller) == 0  # the caller had under 0.5 s left
    assert talk_overs([(4.0, 6.0), (7.0, 9.0)], caller) == 2


def test_longest_silence_is_between_first_and_last_speech() -> None:
    assert longest_silence([(5.0, 6.0), (30.0, 31.0)], [(8.0, 9.0)]) == pytest.approx(21.0)
    assert longest_silence([(5.0, 6.0)], []) == 0.0


def test_dead_air_makes_a_silence_of_its_length_where_it_is_inserted() -> None:
    stereo = _stereo([(1, 4), (6, 9)], [(4.5, 5.5)], 10)
    before = longest_silence(*channel_activity(stereo, RATE))
    held = insert_dead_air(stereo, RATE, at_s=5.75, seconds=25.0)
    assert held.shape == (2, stereo.shape[1] + 25 * RATE)
    after = longest_silence(*channel_activity(held, RATE))
    assert before < 1.0
    assert after == pytest.approx(25.0 + before, abs=0.2)
