"""An encoder that embeds each distinct sentence once per training run.

Training computes every dev call's features three times (as written and with two sets of inserted
procedural turns), so most sentences recur; the forward pass is most of a fit's time. A sentence's
embedding does not depend on its batch (up to float rounding well inside the ``--check`` tolerance),
so a fit through this encoder gives the same models.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from callpipe_analyzer.offline.encoder import Array, MiniLMEncoder

__all__ = ["MemoizedEncoder"]


class MemoizedEncoder(MiniLMEncoder):
    """``MiniLMEncoder`` with a per-instance memo of sentence -> embedding row."""

    def __init__(self) -> None:
        super().__init__()
        self._rows: dict[str, Array] = {}

    def encode(self, sentences: Sequence[str], *, batch_size: int = 64) -> Array:
        unseen = list(dict.fromkeys(s for s in sentences if s not in self._rows))
        if unseen:
            for sentence, row in zip(unseen, super().encode(unseen, batch_size=batch_size), strict=True):
                self._rows[sentence] = row
        if not sentences:
            return super().encode(sentences)
        return np.stack([self._rows[s] for s in sentences])
