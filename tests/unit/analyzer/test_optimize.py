"""The shared optimiser of the offline analyzer's small models."""

from __future__ import annotations

import numpy as np

from callpipe_analyzer.offline.optimize import descend, softmax_rows


def test_descend_finds_the_minimum_of_a_quadratic() -> None:
    target_w, target_b = np.array([1.5, -2.0]), np.array([0.5])

    def gradient(w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return w - target_w, b - target_b

    start_w, start_b = np.zeros(2), np.zeros(1)
    w, b = descend(gradient, start_w, start_b, step=0.1, iters=300)
    assert np.allclose(w, target_w, atol=1e-6) and np.allclose(b, target_b, atol=1e-6)
    assert not start_w.any() and not start_b.any()  # the starting point is not changed in place


def test_softmax_rows_is_stable_and_normalised() -> None:
    p = softmax_rows(np.array([[1000.0, 1000.0], [0.0, np.log(3.0)]]))
    assert np.allclose(p, [[0.5, 0.5], [0.25, 0.75]])
