"""Two-speaker clustering of window features: odd outlier windows must not become a "speaker"."""

from __future__ import annotations

import numpy as np

from callpipe_transcriber.diarize import cluster_two


def _voices(rng: np.random.Generator, n_a: int, n_b: int) -> tuple[np.ndarray, np.ndarray]:
    """Standardized-like features of two voices 3 units apart on the pitch axis (last column)."""
    a = rng.normal(0, 0.4, size=(n_a, 5))
    b = rng.normal(0, 0.4, size=(n_b, 5))
    a[:, -1] -= 1.5
    b[:, -1] += 1.5
    truth = np.array([0] * n_a + [1] * n_b)
    return np.vstack([a, b]), truth


def _agreement(labels: np.ndarray, truth: np.ndarray) -> float:
    same = float((labels == truth).mean())
    return max(same, 1 - same)  # label numbers are arbitrary


def test_two_clean_voices_are_split_without_resplit() -> None:
    z, truth = _voices(np.random.default_rng(1), 10, 9)
    labels, resplit = cluster_two(z)
    assert _agreement(labels, truth) == 1.0
    assert not resplit


def test_two_octave_error_windows_do_not_swallow_a_voice() -> None:
    rng = np.random.default_rng(2)
    z, truth = _voices(rng, 10, 9)
    # Two windows of voice B whose pitch came out an octave high: far beyond both voices.
    odd = z[[10, 11]].copy()
    odd[:, -1] += 9.0
    z[[10, 11]] = odd
    labels, resplit = cluster_two(z)
    assert resplit  # flagged: the caller halves the separation, roles become low-confidence
    assert _agreement(labels[:10], truth[:10]) == 1.0
    assert len(set(labels[:10].tolist())) == 1
    # Voice B's ordinary windows are kept apart from voice A.
    assert set(labels[12:].tolist()).isdisjoint(set(labels[:10].tolist()))


def test_a_genuinely_quiet_party_with_few_windows_is_kept() -> None:
    # Below the re-split rule's minimum (fewer than 8 windows): the small cluster stands.
    z, truth = _voices(np.random.default_rng(3), 5, 2)
    labels, resplit = cluster_two(z)
    assert not resplit
    assert _agreement(labels, truth) == 1.0
