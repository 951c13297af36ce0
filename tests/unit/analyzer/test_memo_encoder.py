"""The training tool's memoizing encoder: each distinct sentence is embedded once, and the rows are
the plain encoder's (up to float rounding), in the order asked."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from callpipe_analyzer.offline.encoder import Array, MiniLMEncoder
from callpipe_tools.training.memo_encoder import MemoizedEncoder


def test_repeated_sentences_are_embedded_once_and_match_the_plain_encoder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    memo = MemoizedEncoder()
    forwarded: list[str] = []
    plain_encode = MiniLMEncoder.encode

    def counting(self: MiniLMEncoder, sentences: Sequence[str], *, batch_size: int = 64) -> Array:
        forwarded.extend(sentences)
        return plain_encode(self, sentences, batch_size=batch_size)

    monkeypatch.setattr(MiniLMEncoder, "encode", counting)
    first = ["I want to cancel my plan.", "Thanks for calling.", "I want to cancel my plan."]
    second = ["Thanks for calling.", "My card was declined twice.", "I want to cancel my plan."]
    rows_first = memo.encode(first)
    rows_second = memo.encode(second)
    assert forwarded == ["I want to cancel my plan.", "Thanks for calling.", "My card was declined twice."]
    assert memo.encode([]).shape == (0, memo.dimension)

    monkeypatch.setattr(MiniLMEncoder, "encode", plain_encode)
    plain = MiniLMEncoder()
    np.testing.assert_allclose(rows_first, plain.encode(first), atol=1e-5)
    np.testing.assert_allclose(rows_second, plain.encode(second), atol=1e-5)
    assert rows_first.shape == (3, plain.dimension) and rows_first.dtype == np.float32
