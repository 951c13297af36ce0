"""Fit the offline analyzer's supervised models on the dev split and write ``model.json``.

    python -m callpipe_tools.training.offline_analyzer [--dataset calls.yaml] [--config analysis.yaml]
        [--output model.json] [--check]

Only calls with ``split: dev`` are read; held-out calls are skipped before any feature is
computed. Hyper-parameters (regularisation, which intent evidence and which sentiment features are
used) are chosen by cross-validation on the dev calls, leaving each author's batch out whole (or
call by call when the calls are not in batches), and the cross-validated accuracies (for intent: of
the whole decision, with its confusion matrix and the calls it misses) are printed: those, not the
eval's dev figures (which include the calls the models were fitted on), estimate quality.
A call center with its own taxonomy or sentiment examples fits its own models with ``--config``
and its labelled calls (the dataset format of ``datasets/analyzer/calls.yaml``), and points
``ANALYZER_OFFLINE_MODEL_PATH`` at the output.
Deterministic: the same dataset and configuration give the same file. ``--check`` fits and
compares with the shipped file instead of writing it (exit 1 when they differ).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import yaml

from callpipe.models import Role, Utterance
from callpipe_analyzer.config import load_config
from callpipe_analyzer.offline.features import CallFeatureExtractor, CallFeatures
from callpipe_analyzer.offline.intent import INTENT_FEATURES, fit_intent_model, neighbour_scores
from callpipe_analyzer.offline.supervised import (
    DEFAULT_MODEL_PATH,
    Array,
    LinearModel,
    SupervisedModels,
    examples_fingerprint,
    fit_logreg,
    sentiment_columns,
)
from callpipe_analyzer.ports import AnalysisRequest
from callpipe_analyzer.redaction import Redactor, RedactorOptions
from callpipe_analyzer.sentiment import SentimentScorer, label_for
from callpipe_analyzer.stage import prepare
from callpipe_tools.training.memo_encoder import MemoizedEncoder
from callpipe_tools.training.procedural import CHECK_TURNS, FIT_TURNS, with_procedural_turns

__all__ = ["fit", "is_current", "main"]

DEFAULT_DATASET = Path(__file__).resolve().parents[3] / "datasets" / "analyzer" / "calls.yaml"
SENTIMENT_LABELS = ["negative", "neutral", "positive"]
_INTENT_L2 = (0.003, 0.01, 0.03, 0.1, 0.3)
# Evidence sets compared by cross-validation (names of INTENT_FEATURES left out).
_INTENT_SETS: dict[str, list[str]] = {
    "all": [],
    "no-neighbours": ["neighbours"],
    "no-agent": ["agent_restatement", "agent_vote", "keywords_agent"],
    "no-inquiry-cue": ["inquiry_cue"],
    "vote+keywords": [f for f in INTENT_FEATURES if f not in ("vote", "keywords_caller")],
}
_SENTIMENT_L2 = (0.01, 0.03, 0.1, 0.3, 1.0)
# Feature groups (supervised.SENTIMENT_GROUPS) compared by cross-validation across batches.
_SENTIMENT_SETS: dict[str, list[str]] = {
    "lexicon": ["lexicon"],
    "lexicon+examples+agent": ["lexicon", "examples", "agent"],
    "all": ["lexicon", "examples", "agent", "embedding"],
}
# Calls were written in batches, each by one author (README): ``dv2-07`` is batch ``dv2``, ``hc-03``
# batch ``hc``; the first 48 calls (``bill-01`` …) are one batch.
_BATCH = re.compile(r"^(dv\d+|h[a-z])-")
_MIN_BATCHES = 3  # fewer batches than this: leave-one-out instead


def batch_of(call_id: str) -> str:
    match = _BATCH.match(call_id)
    return match.group(1) if match else "first"


def _request(call: dict[str, Any], redactor: Redactor, scorer: SentimentScorer) -> AnalysisRequest:
    """The same request the analyze stage builds: redacted turns with per-turn sentiment."""
    utterances = [
        Utterance(role=Role(role), speaker=role, start_s=4.0 * i, end_s=4.0 * i + 3.5, text=text)
        for i, (role, text) in enumerate(call["turns"])
    ]
    redaction, sentiments = prepare(utterances, redactor, scorer)
    return AnalysisRequest(
        call_id=call["id"], utterances=redaction.utterances, sentiments=sentiments, language="en"
    )


def _evidence_with_neighbours(
    feats: list[CallFeatures], y: list[int], n_labels: int, rows: list[int], held: list[int]
) -> Array:
    """Evidence of ``rows`` with ``neighbours`` from the dev calls outside ``held`` and the row itself."""
    bank = np.stack([f.caller_vector for f in feats])
    labels = np.asarray(y)
    col = INTENT_FEATURES.index("neighbours")
    out = np.stack([feats[i].intent_evidence for i in rows]).copy()
    for j, i in enumerate(rows):
        out[j, :, col] = neighbour_scores(feats[i].caller_vector, bank, labels, n_labels, exclude=[*held, i])
    return out


def _intent_cv(
    feats: list[CallFeatures], y: list[int], labels: list[str], groups: list[str]
) -> dict[tuple[float, str], npt.NDArray[np.int_]]:
    """Predictions of the whole intent decision for each dev call by models fitted without its
    batch, per (l2, evidence set). The left-out batch is neither a training row nor anyone's
    neighbour."""
    n = len(y)
    results: dict[tuple[float, str], npt.NDArray[np.int_]] = {}
    folds = []
    for batch in sorted(set(groups)):
        train = [i for i in range(n) if groups[i] != batch]
        test = [i for i in range(n) if groups[i] == batch]
        folds.append(
            (
                train,
                test,
                _evidence_with_neighbours(feats, y, len(labels), train, test),
                _evidence_with_neighbours(feats, y, len(labels), test, test),
            )
        )
    bank = np.stack([f.caller_vector for f in feats])
    for l2 in _INTENT_L2:
        for name, mask in _INTENT_SETS.items():
            pred = np.zeros(n, dtype=np.int_)
            for train, test, x_train, x_test in folds:
                model = fit_intent_model(
                    x_train, [y[i] for i in train], labels, bank[train], l2=l2, mask=mask
                )
                for i, x in zip(test, x_test, strict=True):
                    pred[i] = int(np.argmax(model.proba(x)))
            results[(l2, name)] = pred
    return results


def _per_batch(hits: npt.NDArray[np.bool_], batches: list[str]) -> str:
    return ", ".join(
        f"{b} {np.mean([h for h, g in zip(hits, batches, strict=True) if g == b]):.0%}"
        for b in sorted(set(batches))
    )


def _confusion(y: list[int], pred: npt.NDArray[np.int_], labels: list[str]) -> list[str]:
    short = [label[:6] for label in labels]
    lines = ["  confusion (rows: labelled, columns: predicted): " + " ".join(f"{s:>6}" for s in short)]
    for k, label in enumerate(labels):
        counts = [
            sum(1 for t, p in zip(y, pred, strict=True) if t == k and p == j) for j in range(len(labels))
        ]
        lines.append(f"  {label:>47}: " + " ".join(f"{c:>6}" for c in counts))
    return lines


def _sentiment_cv(
    x: Array, x_fit: Array, x_check: Array, y: list[str], groups: list[str]
) -> dict[tuple[str, float], tuple[list[str], list[str]]]:
    """Per (set, l2): predictions for each dev call, and for the call with the check set of
    procedural turns inserted, by models fitted without its whole batch.

    Leaving a whole batch out asks what a call-level model fitted on other authors makes of a new
    author's calls, which is what the held-out batches ask: leave-one-out let a call lean on its
    batch-mates' style. Training rows are each call as written and with the fit set of procedural
    turns (:mod:`callpipe_tools.training.procedural`).
    """
    results: dict[tuple[str, float], tuple[list[str], list[str]]] = {}
    for name, groups_used in _SENTIMENT_SETS.items():
        cols = sentiment_columns(groups_used)
        for l2 in _SENTIMENT_L2:
            pred, pred_check = [""] * len(y), [""] * len(y)
            for batch in sorted(set(groups)):
                train = [i for i, g in enumerate(groups) if g != batch]
                test = [i for i, g in enumerate(groups) if g == batch]
                model = fit_logreg(
                    np.concatenate([x[train], x_fit[train]]),
                    [y[i] for i in train] * 2,
                    SENTIMENT_LABELS,
                    l2=l2,
                    columns=cols,
                )
                for i, p, q in zip(test, model.proba(x[test]), model.proba(x_check[test]), strict=True):
                    pred[i] = SENTIMENT_LABELS[int(np.argmax(p))]
                    pred_check[i] = SENTIMENT_LABELS[int(np.argmax(q))]
            results[(name, l2)] = (pred, pred_check)
    return results


def fit(dataset: Path, config_path: Path | None = None) -> tuple[SupervisedModels, list[str]]:
    """Fit the models on the dev calls of ``dataset`` for the ``analysis.yaml`` at ``config_path``
    (None: the bundled one); returns them and a report."""
    calls = [c for c in yaml.safe_load(dataset.read_text(encoding="utf-8")) if c.get("split", "dev") == "dev"]
    config = load_config(config_path)
    # What the analyzer computes before any fitted model is applied.
    # The calls' sentences recur in the three feature passes below: each is embedded once.
    extractor = CallFeatureExtractor(config, MemoizedEncoder())
    redactor, scorer = Redactor(RedactorOptions()), SentimentScorer()

    def features(call: dict[str, Any]) -> CallFeatures:
        request = _request(call, redactor, scorer)
        sentences, embeddings = extractor.embed(request)
        return extractor.features(request, sentences, embeddings)

    feats = [features(call) for call in calls]
    fit_feats = [features(with_procedural_turns(c, FIT_TURNS)) for c in calls]
    check_feats = [features(with_procedural_turns(c, CHECK_TURNS)) for c in calls]
    labels = list(config.intents)
    y_intent = [labels.index(c["labels"]["intent"]) for c in calls]
    y_sent = [c["labels"]["caller_sentiment"] for c in calls]

    report = [f"dev calls: {len(calls)}"]
    zero_shot = np.mean([int(np.argmax(f.intent_scores)) == t for f, t in zip(feats, y_intent, strict=True)])
    rules = np.mean([str(_rule_label(f)) == t for f, t in zip(feats, y_sent, strict=True)])
    report.append(f"intent, zero-shot vote + keywords (nothing fitted): {zero_shot:.1%}")
    report.append(f"caller sentiment, rules only: {rules:.1%}")
    batches = [batch_of(str(c["id"])) for c in calls]
    if len(set(batches)) < _MIN_BATCHES:
        # A call center's own labelled calls come as one set: cross-validate call by call.
        batches = [str(c["id"]) for c in calls]
    intent_cv = _intent_cv(feats, y_intent, labels, batches)
    accuracy = {
        key: float(np.mean([p == t for p, t in zip(pred, y_intent, strict=True)]))
        for key, pred in intent_cv.items()
    }

    # The full evidence set is kept unless a smaller one beats it by more than one call: the first
    # 64 dev calls flatter the zero-shot vote (the taxonomy examples were written from them), so a
    # one-call edge for a vote-heavy set is no evidence that it generalises. Among l2 values, ties
    # go to the stronger regularisation.
    def best_for(name: str) -> tuple[float, float]:
        return max(((l2, accuracy[(l2, name)]) for l2 in _INTENT_L2), key=lambda kv: (round(kv[1], 6), kv[0]))

    set_i = "all"
    l2_i, acc_i = best_for(set_i)
    for name in _INTENT_SETS:
        l2, acc = best_for(name)
        if acc > acc_i + 1.0 / len(y_intent) + 1e-9:
            set_i, l2_i, acc_i = name, l2, acc
    report.append(
        f"intent, cross-validated by batch ({len(set(batches))} batches, each left out whole; "
        f"whole decision): best l2={l2_i} evidence={set_i} accuracy {acc_i:.1%}"
    )
    report.append("  per batch: " + _per_batch(intent_cv[(l2_i, set_i)] == np.asarray(y_intent), batches))
    report.extend(f"  l2={k[0]} evidence={k[1]}: {v:.1%}" for k, v in sorted(accuracy.items()))
    report.extend(_confusion(y_intent, intent_cv[(l2_i, set_i)], labels))
    missed = [
        f"{calls[i]['id']}: {labels[y_intent[i]]} -> {labels[int(p)]}"
        for i, p in enumerate(intent_cv[(l2_i, set_i)])
        if p != y_intent[i]
    ]
    report.append("  cross-validated misses (dev): " + ("; ".join(missed) or "none"))
    sentiment_models: dict[str, LinearModel] = {}
    for party in ("caller", "agent"):

        def vectors(fs: list[CallFeatures], party: str = party) -> Array:
            return np.stack([f.sentiment if party == "caller" else f.agent_sentiment for f in fs])

        y = [str(c["labels"][f"{party}_sentiment"]) for c in calls]
        sentiment_models[party] = _fit_sentiment(
            party, vectors(feats), vectors(fit_feats), vectors(check_feats), y, calls, batches, report
        )

    everyone = list(range(len(calls)))
    x_i = _evidence_with_neighbours(feats, y_intent, len(labels), everyone, [])
    bank = np.stack([f.caller_vector for f in feats])
    intent_model = fit_intent_model(x_i, y_intent, labels, bank, l2=l2_i, mask=_INTENT_SETS[set_i])
    report.append(
        "intent evidence weights: "
        + ", ".join(f"{n}={w:+.2f}" for n, w in zip(INTENT_FEATURES, intent_model.weights, strict=True))
    )
    models = SupervisedModels(
        intent=intent_model,
        sentiment=sentiment_models["caller"],
        agent_sentiment=sentiment_models["agent"],
        trained_on=f"{dataset.name} split=dev calls={len(calls)} config={config.version}",
        examples_fingerprint=examples_fingerprint(config),
    )
    return models, report


def _fit_sentiment(
    party: str,
    x: Array,
    x_fit: Array,
    x_check: Array,
    y: list[str],
    calls: list[dict[str, Any]],
    batches: list[str],
    report: list[str],
) -> LinearModel:
    """Choose feature groups and l2 for one party's sentiment by batch cross-validation, report
    it, and fit on every dev call (as written and with the fit set of procedural turns)."""
    cv = _sentiment_cv(x, x_fit, x_check, y, batches)

    def hits(pred: list[str]) -> npt.NDArray[np.bool_]:
        return np.array([p == t for p, t in zip(pred, y, strict=True)], dtype=np.bool_)

    # Chosen on the calls as written and with procedural turns, equally: a model right on short
    # calls only would be wrong on real ones. Ties go to the smaller feature set, then to the
    # stronger regularisation.
    acc = {k: (float(hits(v[0]).mean()), float(hits(v[1]).mean())) for k, v in cv.items()}
    order = list(_SENTIMENT_SETS)
    chosen, l2 = max(acc, key=lambda k: (round(sum(acc[k]), 6), -order.index(k[0]), k[1]))
    best, best_check = cv[(chosen, l2)]
    moved = float(np.mean([a != b for a, b in zip(best, best_check, strict=True)]))
    report.append(
        f"{party} sentiment, cross-validated by batch ({len(set(batches))} batches, each left out whole): "
        f"best features={chosen} l2={l2} accuracy {acc[(chosen, l2)][0]:.1%}; with "
        f"{len(CHECK_TURNS)} procedural turns inserted {acc[(chosen, l2)][1]:.1%} "
        f"({moved:.1%} of labels moved)"
    )
    report.append("  per batch: " + _per_batch(hits(best), batches))
    report.extend(
        f"  features={k[0]} l2={k[1]}: {v[0]:.1%}, with procedural turns {v[1]:.1%}"
        for k, v in sorted(acc.items())
    )
    missed = [f"{calls[i]['id']}: {y[i]} -> {p}" for i, p in enumerate(best) if p != y[i]]
    report.append("  cross-validated misses (dev): " + ("; ".join(missed) or "none"))
    return fit_logreg(
        np.concatenate([x, x_fit]),
        y * 2,
        SENTIMENT_LABELS,
        l2=l2,
        columns=sentiment_columns(_SENTIMENT_SETS[chosen]),
    )


def _rule_label(f: CallFeatures) -> str:
    return label_for(f.caller_rollup).value


# The saved numbers are rounded to 4-6 decimals; the same fit on another CPU (another SIMD path in
# onnxruntime and BLAS) moves a few of them by one unit in that last place. A stale model differs
# by far more, and every label, column and fingerprint must still match exactly.
CHECK_TOLERANCE = 5e-4


def is_current(models: SupervisedModels, path: Path) -> bool:
    """Whether the model file at ``path`` is what ``models`` would be saved as, numbers within
    ``CHECK_TOLERANCE`` (a missing or unreadable file is not)."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "model.json"
        models.save(fresh)
        try:
            return _same(json.loads(fresh.read_text()), json.loads(path.read_text()))
        except (OSError, json.JSONDecodeError):
            return False


def _same(fresh: Any, shipped: Any) -> bool:
    if isinstance(fresh, dict) and isinstance(shipped, dict):
        return fresh.keys() == shipped.keys() and all(_same(fresh[k], shipped[k]) for k in fresh)
    if isinstance(fresh, list) and isinstance(shipped, list):
        return len(fresh) == len(shipped) and all(_same(a, b) for a, b in zip(fresh, shipped, strict=True))
    numbers = (int, float)
    if isinstance(fresh, numbers) and isinstance(shipped, numbers) and not isinstance(fresh, bool):
        return abs(fresh - shipped) <= CHECK_TOLERANCE
    return bool(fresh == shipped)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m callpipe_tools.training.offline_analyzer", description=__doc__
    )
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    parser.add_argument("--config", type=Path, default=None, help="analysis.yaml (default: the bundled one)")
    parser.add_argument("--output", type=Path, default=DEFAULT_MODEL_PATH)
    parser.add_argument("--check", action="store_true", help="compare with the shipped file, write nothing")
    args = parser.parse_args(argv)
    if not args.dataset.exists():
        print(f"dataset not found: {args.dataset} (pass --dataset)", file=sys.stderr)
        return 2
    models, report = fit(args.dataset, args.config)
    print("\n".join(report))
    if args.check:
        same = is_current(models, args.output)
        print(f"{args.output} is up to date" if same else f"{args.output} differs from a fresh fit")
        return 0 if same else 1
    models.save(args.output)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
