"""The one optimiser the offline analyzer's small models share.

Both are softmax models fitted by full-batch gradient descent with momentum on an L2-regularised
cross-entropy (:func:`callpipe_analyzer.offline.supervised.fit_logreg`,
:func:`callpipe_analyzer.offline.intent.fit_intent_model`). Full-batch and seedless, so the same
data always gives the same ``model.json``; at a few hundred rows it takes milliseconds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["Gradient", "descend", "softmax_rows"]

Floats = npt.NDArray[np.float64]
# (weights, bias) -> (gradient of weights, gradient of bias)
Gradient = Callable[[Floats, Floats], tuple[Floats, Floats]]
_MOMENTUM = 0.9


def descend(
    gradient: Gradient, weights: Floats, bias: Floats, *, step: float, iters: int
) -> tuple[Floats, Floats]:
    """Heavy-ball gradient descent from (``weights``, ``bias``); returns the final parameters."""
    w, b = weights.copy(), bias.copy()
    vw, vb = np.zeros_like(w), np.zeros_like(b)
    for _ in range(iters):
        gw, gb = gradient(w, b)
        vw = _MOMENTUM * vw - step * gw
        vb = _MOMENTUM * vb - step * gb
        w += vw
        b += vb
    return w, b


def softmax_rows(logits: npt.NDArray[Any]) -> Floats:
    """Row-wise softmax (numerically stable), in float64 for the fitting loops."""
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    result: Floats = e / e.sum(axis=-1, keepdims=True)
    return result
