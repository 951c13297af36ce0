"""The offline intent decision: per-intent evidence from the whole call, combined by a small model.

Zero-shot similarity of whole turns to the taxonomy reads literal requests ("I want to cancel")
and misses indirect ones, and small talk or a second, minor issue can outvote the reason for the
call. So each call is described, for every intent, by a few pieces of evidence:

- ``vote``: every sentence's soft vote over the taxonomy (the zero-shot decision of round 1);
- ``first_caller`` / ``first_caller_vote``: the best match and the soft vote over the caller's
  first substantive sentences (the reason for a call is stated early; small talk matches nothing);
- ``agent_restatement``: the best match among the agent's restatements ("so you'd like to…",
  "I can help you with…"), which name the request in the taxonomy's own terms;
- ``agent_vote``: the agent's soft vote (what the agent talks about: line tests, payments…);
- ``keywords_caller`` / ``keywords_agent``: configured keyword hits per party;
- ``inquiry_cue`` (the configured ``inquiry_intent`` only: ``general_inquiry`` in the bundled
  taxonomy): the caller's first substantive sentences are questions that ask for nothing ("will
  my phone work in Mexico?", "quick question…"), which similarity confuses with the intent of
  whatever they ask about (a plan → upgrade_purchase);
- ``neighbours``: similarity of the call's caller vector to the labelled dev calls of the intent
  (mean of the closest three; the dev calls ship in ``model.json``).

A conditional logit — one weight per evidence kind, shared by all intents, plus a bias per intent
— turns the evidence into probabilities. Few parameters (9 + 8), so ~100 dev calls fit it without
memorising them; ``python -m callpipe_tools.training.offline_analyzer`` fits it and reports its
leave-one-out accuracy. Without a fitted model the analyzer falls back to ``vote`` + keywords.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from callpipe.models import Role
from callpipe_analyzer.offline.lexicon import INQUIRY, REQUEST, RESTATEMENT
from callpipe_analyzer.offline.optimize import descend, softmax_rows

__all__ = [
    "INTENT_FEATURES",
    "IntentDecision",
    "IntentEvidence",
    "IntentModel",
    "fit_intent_model",
    "neighbour_scores",
]

Array = npt.NDArray[np.float32]

INTENT_FEATURES = [
    "vote",
    "first_caller",
    "first_caller_vote",
    "agent_restatement",
    "agent_vote",
    "keywords_caller",
    "keywords_agent",
    "inquiry_cue",
    "neighbours",
]
_KNN = "neighbours"

VOTE_TEMPERATURE = 0.1  # softmax temperature over cosine similarities
_BEST_SHARE = 0.75  # best single example vs the intent's centroid
_AGENT_VOTE = 0.5  # an agent sentence counts half a caller sentence in ``vote``
_POSITION_DECAY = 0.15  # the n-th sentence of a party weighs 1 / (1 + 0.15 n) in ``vote``
_FIRST_SENTENCES = 4  # how many substantive caller sentences state the reason for the call
_MIN_WORDS = 4  # "Hi Kofi, how are you?" states no reason
_KEYWORD_CAP = 2  # keyword hits per party and intent
_NEIGHBOURS = 3


class IntentEvidence:
    """Computes the evidence matrix (intents × features, ``neighbours`` left 0) of one call."""

    def __init__(
        self,
        examples: Array,
        owner: npt.NDArray[np.int_],
        keywords: list[list[str]],
        inquiry: int | None = None,
    ) -> None:
        self.inquiry = inquiry  # the index of the general-inquiry intent, if the taxonomy has one
        self.examples = examples
        self.owner = owner
        self.n = len(keywords)
        centroids = np.stack([examples[owner == k].mean(axis=0) for k in range(self.n)])
        self.centroids = centroids / np.linalg.norm(centroids, axis=1, keepdims=True)
        self.keywords = keywords

    def similarity(self, embeddings: Array) -> Array:
        """(sentences, intents): the best example blended with the intent's centroid."""
        sims = embeddings @ self.examples.T
        best = np.stack([sims[:, self.owner == k].max(axis=1) for k in range(self.n)], axis=1)
        result: Array = (_BEST_SHARE * best + (1.0 - _BEST_SHARE) * (embeddings @ self.centroids.T)).astype(
            np.float32
        )
        return result

    def matrix(self, sentences: list[tuple[Role, str]], embeddings: Array) -> Array:
        out = np.zeros((self.n, len(INTENT_FEATURES)), dtype=np.float32)
        if not sentences:
            return out
        per_intent = self.similarity(embeddings)
        votes = _softmax(per_intent / VOTE_TEMPERATURE)
        # A sentence that matches nothing in the taxonomy well (small talk) counts less.
        fit = np.clip(per_intent.max(axis=1), 0.0, None)
        is_agent = np.array([role is Role.AGENT for role, _ in sentences])
        weights = np.empty(len(sentences), dtype=np.float32)
        seen = {True: 0, False: 0}
        for i, agent in enumerate(is_agent.tolist()):
            weights[i] = (_AGENT_VOTE if agent else 1.0) / (1.0 + _POSITION_DECAY * seen[agent])
            seen[agent] += 1
        col = INTENT_FEATURES.index
        out[:, col("vote")] = _weighted_mean(votes, weights * fit)

        caller = [i for i, (role, text) in enumerate(sentences) if role is not Role.AGENT]
        first = [i for i in caller if len(sentences[i][1].split()) >= _MIN_WORDS][
            :_FIRST_SENTENCES
        ] or caller[:1]
        if first:
            out[:, col("first_caller")] = per_intent[first].max(axis=0)
            out[:, col("first_caller_vote")] = _weighted_mean(votes[first], fit[first])

        if self.inquiry is not None and first:
            texts = [sentences[i][1] for i in first]
            asks = [t.rstrip().endswith("?") and not REQUEST.search(t) for t in texts]
            out[self.inquiry, col("inquiry_cue")] = sum(asks) / len(texts) + float(
                any(INQUIRY.search(t) for t in texts)
            )

        agent = [i for i in range(len(sentences)) if is_agent[i]]
        restated = [i for i in agent if RESTATEMENT.search(sentences[i][1])]
        if restated:
            out[:, col("agent_restatement")] = per_intent[restated].max(axis=0)
        if len(agent) > 1:
            # The first agent sentence is the greeting.
            rest = agent[1:]
            out[:, col("agent_vote")] = _weighted_mean(votes[rest], fit[rest])

        caller_text = " ".join(sentences[i][1] for i in caller).lower()
        agent_text = " ".join(sentences[i][1] for i in agent).lower()
        for k, words in enumerate(self.keywords):
            out[k, col("keywords_caller")] = min(_KEYWORD_CAP, sum(1 for w in words if w in caller_text))
            out[k, col("keywords_agent")] = min(_KEYWORD_CAP, sum(1 for w in words if w in agent_text))
        return out


def neighbour_scores(
    vector: Array,
    bank: Array,
    bank_labels: npt.NDArray[np.int_],
    n_labels: int,
    exclude: list[int] | None = None,
) -> Array:
    """Per intent, the mean similarity of ``vector`` to its closest labelled calls, ``exclude`` left out."""
    out = np.zeros(n_labels, dtype=np.float32)
    if len(bank) == 0:
        return out
    sims = bank @ vector
    keep = np.ones(len(bank), dtype=bool)
    if exclude:
        keep[exclude] = False
    for k in range(n_labels):
        row = np.sort(sims[keep & (bank_labels == k)])[::-1][:_NEIGHBOURS]
        out[k] = float(row.mean()) if len(row) else 0.0
    return out


@dataclass(frozen=True)
class IntentModel:
    """Conditional logit over the evidence matrix, plus the labelled dev calls for ``neighbours``."""

    labels: list[str]
    weights: Array  # (features,): one weight per kind of evidence, shared by all intents
    bias: Array  # (intents,)
    mean: Array  # (features,)
    scale: Array  # (features,)
    bank: Array  # (dev calls, dim): caller vectors
    bank_labels: npt.NDArray[np.int_]  # (dev calls,)

    def complete(self, evidence: Array, caller_vec: Array) -> Array:
        """The evidence matrix with ``neighbours`` filled in from the shipped dev calls."""
        full = evidence.copy()
        full[:, INTENT_FEATURES.index(_KNN)] = neighbour_scores(
            caller_vec, self.bank, self.bank_labels, len(self.labels)
        )
        return full

    def proba(self, evidence: Array) -> Array:
        z = ((evidence - self.mean) / self.scale) @ self.weights + self.bias
        result: Array = _softmax(z[None, :])[0]
        return result

    def to_json(self) -> dict[str, Any]:
        return {
            "labels": self.labels,
            "features": INTENT_FEATURES,
            "weights": np.round(self.weights, 5).tolist(),
            "bias": np.round(self.bias, 5).tolist(),
            "mean": np.round(self.mean, 6).tolist(),
            "scale": np.round(self.scale, 6).tolist(),
            "bank_labels": self.bank_labels.tolist(),
            "bank": np.round(self.bank, 4).tolist(),
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> IntentModel:
        if raw.get("features") != INTENT_FEATURES:
            raise ValueError(
                "model.json holds other intent features: rerun callpipe_tools.training.offline_analyzer"
            )
        return cls(
            labels=list(raw["labels"]),
            weights=np.asarray(raw["weights"], dtype=np.float32),
            bias=np.asarray(raw["bias"], dtype=np.float32),
            mean=np.asarray(raw["mean"], dtype=np.float32),
            scale=np.asarray(raw["scale"], dtype=np.float32),
            bank=np.asarray(raw["bank"], dtype=np.float32),
            bank_labels=np.asarray(raw["bank_labels"], dtype=np.int_),
        )


def fit_intent_model(
    evidence: Array,
    y: list[int],
    labels: list[str],
    bank: Array,
    *,
    l2: float,
    mask: list[str] | None = None,
    iters: int = 400,
) -> IntentModel:
    """Fit on ``evidence`` (calls, intents, features) with gold intent indices ``y``.

    ``mask``: evidence kinds to leave out (their weight stays 0), for the cross-validated choice.
    Full-batch gradient descent with momentum on the L2-regularised cross-entropy: deterministic.
    """
    n, k, f = evidence.shape
    flat = evidence.reshape(-1, f)
    mean = flat.mean(axis=0)
    scale = flat.std(axis=0) + 1e-6
    xs = ((evidence - mean) / scale).astype(np.float64)
    active = np.array([name not in (mask or []) for name in INTENT_FEATURES], dtype=np.float64)
    target = np.zeros((n, k))
    target[np.arange(n), y] = 1.0

    def gradient(w: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> tuple[Any, Any]:
        g = softmax_rows(xs @ w + b) - target  # (n, k)
        # Masked evidence kinds get no gradient, so their weight stays 0.
        return (np.einsum("nk,nkf->f", g, xs) / n + l2 * w) * active, g.mean(axis=0) + l2 * b

    w, b = descend(gradient, np.zeros(f), np.zeros(k), step=0.1, iters=iters)
    return IntentModel(
        labels=list(labels),
        weights=w.astype(np.float32),
        bias=b.astype(np.float32),
        mean=mean.astype(np.float32),
        scale=scale.astype(np.float32),
        bank=bank.astype(np.float32),
        bank_labels=np.asarray(y, dtype=np.int_),
    )


class IntentDecision:
    """The call's intent: the fitted model's most probable label, or without one (or a model fitted
    for another taxonomy, which the analyzer does not pass) the zero-shot vote + keyword bonus; a
    call without a sentence gets the taxonomy's last label."""

    def __init__(self, labels: list[str], model: IntentModel | None) -> None:
        self.labels = labels
        self.model = model

    def label(self, scores: Array, evidence: Array, caller_vec: Array, *, has_sentences: bool) -> str:
        if not has_sentences:
            return self.labels[-1]
        if self.model is not None:
            scores = self.model.proba(self.model.complete(evidence, caller_vec))
        return self.labels[int(np.argmax(scores))]


def _softmax(logits: npt.NDArray[Any]) -> Array:
    result: Array = softmax_rows(logits).astype(np.float32)
    return result


def _weighted_mean(rows: Array, weights: Array) -> Array:
    result: Array = ((weights[:, None] * rows).sum(axis=0) / max(float(weights.sum()), 1e-6)).astype(
        np.float32
    )
    return result
