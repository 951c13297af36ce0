"""The offline intent evidence and its conditional logit, on small hand-made inputs."""

from __future__ import annotations

import numpy as np
import pytest

from callpipe.models import Role
from callpipe_analyzer.offline.intent import (
    INTENT_FEATURES,
    IntentEvidence,
    IntentModel,
    fit_intent_model,
    neighbour_scores,
)

COL = INTENT_FEATURES.index


def _unit(*xs: float) -> np.ndarray:
    v = np.array(xs, dtype=np.float32)
    return v / np.linalg.norm(v)


# Three intents whose examples are the three axes of a 3-d space; intent 2 is the "inquiry" one.
EXAMPLES = np.eye(3, dtype=np.float32)
EVIDENCE = IntentEvidence(EXAMPLES, np.array([0, 1, 2]), [["refund"], ["cancel"], ["wondering"]], inquiry=2)


def test_first_substantive_caller_sentences_beat_small_talk() -> None:
    sentences = [
        (Role.AGENT, "Acme, this is Jo."),
        (Role.CALLER, "Hi there, Jo."),  # too short to state a reason: skipped
        (Role.CALLER, "I would like to get my money back please."),
        (Role.CALLER, "Also my cousin says hello to everyone there."),
    ]
    emb = np.stack([_unit(0, 0, 1), _unit(0, 1, 0), _unit(1, 0.1, 0), _unit(1, 1, 1)])
    m = EVIDENCE.matrix(sentences, emb)
    assert m.shape == (3, len(INTENT_FEATURES))
    first = m[:, COL("first_caller")]
    # The greeting (all intent 1) is not among the first substantive sentences.
    assert int(np.argmax(first)) == 0 and first[1] < 0.6
    assert m[:, COL("neighbours")].tolist() == [0.0, 0.0, 0.0]  # filled in by the model


def test_agent_restatement_counts_only_restating_sentences() -> None:
    sentences = [
        (Role.AGENT, "Thanks for calling."),
        (Role.CALLER, "So the thing is, the box in the lounge is old."),
        (Role.AGENT, "So you'd like to cancel the TV service."),
        (Role.AGENT, "The weather is lovely today."),
    ]
    emb = np.stack([_unit(0, 0, 1), _unit(1, 1, 1), _unit(0, 1, 0), _unit(1, 0, 0)])
    m = EVIDENCE.matrix(sentences, emb)
    restated = m[:, COL("agent_restatement")]
    assert int(np.argmax(restated)) == 1 and restated[0] < restated[1]


def test_inquiry_cue_for_questions_that_ask_for_nothing() -> None:
    emb = np.stack([_unit(0, 0, 1), _unit(1, 1, 1)])
    asks = EVIDENCE.matrix(
        [(Role.AGENT, "Acme."), (Role.CALLER, "Will my phone work in Mexico in June?")], emb
    )
    wants = EVIDENCE.matrix(
        [(Role.AGENT, "Acme."), (Role.CALLER, "Can I add a line for my son in June?")], emb
    )
    assert asks[2, COL("inquiry_cue")] == 1.0 and asks[0, COL("inquiry_cue")] == 0.0
    assert wants[2, COL("inquiry_cue")] == 0.0


def test_keywords_are_counted_per_party() -> None:
    emb = np.stack([_unit(1, 0, 0), _unit(0, 1, 0)])
    m = EVIDENCE.matrix([(Role.CALLER, "I want a refund."), (Role.AGENT, "I can cancel that.")], emb)
    assert m[:, COL("keywords_caller")].tolist() == [1.0, 0.0, 0.0]
    assert m[:, COL("keywords_agent")].tolist() == [0.0, 1.0, 0.0]


def test_no_sentences_gives_no_evidence() -> None:
    assert not EVIDENCE.matrix([], np.zeros((0, 3), dtype=np.float32)).any()


def test_neighbours_leave_out_excluded_rows() -> None:
    bank = np.stack([_unit(1, 0, 0), _unit(0.9, 0.1, 0), _unit(0, 1, 0)])
    labels = np.array([0, 0, 1])
    full = neighbour_scores(_unit(1, 0, 0), bank, labels, 3)
    assert full[0] > 0.9 and full[1] == pytest.approx(0.0) and full[2] == 0.0  # intent 2: no calls
    without_self = neighbour_scores(_unit(1, 0, 0), bank, labels, 3, exclude=[0])
    assert without_self[0] < full[0]


def _toy(n: int, informative: str, seed: int = 0) -> tuple[np.ndarray, list[int]]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3, len(INTENT_FEATURES))).astype(np.float32)
    y = [i % 3 for i in range(n)]
    for i, k in enumerate(y):
        x[i, k, COL(informative)] += 3.0
    return x, y


def test_fit_finds_the_informative_evidence_and_is_deterministic() -> None:
    x, y = _toy(60, "agent_vote")
    bank = np.zeros((60, 3), dtype=np.float32)
    a = fit_intent_model(x, y, ["a", "b", "c"], bank, l2=0.01)
    b = fit_intent_model(x, y, ["a", "b", "c"], bank, l2=0.01)
    assert np.array_equal(a.weights, b.weights)
    assert int(np.argmax(a.weights)) == COL("agent_vote")
    test, truth = _toy(30, "agent_vote", seed=1)
    accuracy = np.mean([int(np.argmax(a.proba(test[i]))) == truth[i] for i in range(30)])
    assert accuracy > 0.8


def test_masked_evidence_keeps_weight_zero() -> None:
    x, y = _toy(30, "vote")
    model = fit_intent_model(
        x, y, ["a", "b", "c"], np.zeros((30, 3), dtype=np.float32), l2=0.01, mask=["vote"]
    )
    assert model.weights[COL("vote")] == 0.0


def test_json_round_trip_and_refusal_of_other_features() -> None:
    x, y = _toy(30, "vote")
    bank = np.stack([_unit(1, 0, 0)] * 30)
    model = fit_intent_model(x, y, ["a", "b", "c"], bank, l2=0.01)
    raw = model.to_json()
    again = IntentModel.from_json(raw)
    assert again.labels == ["a", "b", "c"]
    np.testing.assert_allclose(again.proba(x[0]), model.proba(x[0]), atol=1e-3)
    completed = again.complete(x[0], _unit(1, 0, 0))
    assert completed[:, COL("neighbours")].tolist() == pytest.approx([1.0, 1.0, 1.0], abs=1e-3)
    with pytest.raises(ValueError, match="other intent features"):
        IntentModel.from_json({**raw, "features": ["vote"]})
