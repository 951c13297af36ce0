"""The numpy MiniLM encoder against sentence-transformers' published all-MiniLM-L6-v2 behaviour."""

from __future__ import annotations

import numpy as np
import pytest

from callpipe_analyzer.offline.encoder import MiniLMEncoder, _gelu_


@pytest.fixture(scope="module")
def encoder() -> MiniLMEncoder:
    return MiniLMEncoder()


def test_quickstart_similarities_match_the_published_values(encoder: MiniLMEncoder) -> None:
    # sentence-transformers' quickstart (all-MiniLM-L6-v2) prints
    # [[1.0000, 0.6660, 0.1046], [0.6660, 1.0000, 0.1411], [0.1046, 0.1411, 1.0000]].
    emb = encoder.encode(
        ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
    )
    sims = emb @ emb.T
    assert emb.dtype == np.float32
    assert emb.shape == (3, 384)
    assert sims[0, 1] == pytest.approx(0.6660, abs=1e-3)
    assert sims[0, 2] == pytest.approx(0.1046, abs=1e-3)
    assert sims[1, 2] == pytest.approx(0.1411, abs=1e-3)
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)


def test_batching_and_padding_do_not_change_an_embedding(encoder: MiniLMEncoder) -> None:
    short = "Hi."
    long = "My internet keeps dropping every few minutes since the technician visited on Tuesday."
    mixed = ["Okay.", long, short, "I was charged twice for my bill this month, can you fix it?"] * 5
    alone = np.vstack([encoder.encode([s]) for s in mixed])
    # Small batches force several length-sorted batches with different padding widths.
    together = encoder.encode(mixed, batch_size=3)
    assert np.abs(alone - together).max() < 1e-5
    assert encoder.encode([]).shape == (0, 384)


def test_paraphrases_are_closer_than_unrelated_sentences(encoder: MiniLMEncoder) -> None:
    a, b, c = encoder.encode(
        ["I want to cancel my service.", "Please close my account, I'm leaving.", "The router light is red."]
    )
    assert float(a @ b) > float(a @ c) + 0.2


def test_gelu_matches_the_erf_definition() -> None:
    import math

    x = np.linspace(-6, 6, 4001, dtype=np.float32).reshape(-1, 1)
    want = np.array([[v * 0.5 * (1 + math.erf(v / math.sqrt(2)))] for v in x[:, 0]], dtype=np.float64)
    got = _gelu_(x.copy().reshape(-1, 1))
    assert np.abs(got - want).max() < 1e-5
