"""Fit the offline analyzer's supervised models on the dev split and write ``model.json``.

    python -m callpipe_analyzer.offline.train [--dataset datasets/analyzer/calls.yaml] [--check]

Only calls with ``split: dev`` are read; held-out calls are skipped before any feature is
computed. Hyper-parameters (regularisation, the intent blend weight) are chosen by leave-one-out
cross-validation on the dev calls, and the cross-validated dev accuracies are printed: those, not
the eval's dev figures (which include the calls the models were fitted on), estimate quality.
Deterministic: the same dataset and configuration give the same file. ``--check`` fits and
compares with the shipped file instead of writing it (exit 1 when they differ).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from callpipe.models import Role, Utterance
from callpipe_analyzer.config import load_config
from callpipe_analyzer.offline.analyzer import CallFeatures, OfflineAnalyzer
from callpipe_analyzer.offline.supervised import (
    DEFAULT_MODEL_PATH,
    Array,
    SupervisedModels,
    fit_logreg,
)
from callpipe_analyzer.ports import AnalysisRequest
from callpipe_analyzer.redaction import Redactor, RedactorOptions
from callpipe_analyzer.sentiment import SentimentScorer, label_for

__all__ = ["main"]

DEFAULT_DATASET = Path(__file__).resolve().parents[4] / "datasets" / "analyzer" / "calls.yaml"
SENTIMENT_LABELS = ["negative", "neutral", "positive"]
_INTENT_L2 = (0.003, 0.01, 0.03, 0.1)
_INTENT_WEIGHTS = (0.0, 0.25, 0.5, 1.0, 2.0)
_SENTIMENT_L2 = (0.01, 0.03, 0.1, 0.3, 1.0)


def _request(call: dict[str, Any], redactor: Redactor, scorer: SentimentScorer) -> AnalysisRequest:
    """The same request the analyze stage builds: redacted turns with per-turn sentiment."""
    utterances = [
        Utterance(role=Role(role), speaker=role, start_s=4.0 * i, end_s=4.0 * i + 3.5, text=text)
        for i, (role, text) in enumerate(call["turns"])
    ]
    redacted = redactor.redact(utterances).utterances
    sentiments = [scorer.score(u.text, strip_courtesy=u.role is not Role.AGENT) for u in redacted]
    return AnalysisRequest(call_id=call["id"], utterances=redacted, sentiments=sentiments, language="en")


def _loo_folds(n: int) -> list[list[int]]:
    return [[i] for i in range(n)]


def _intent_cv(
    feats: list[CallFeatures], y: list[str], taxonomy: tuple[Array, list[str]], labels: list[str]
) -> dict[tuple[float, float], float]:
    x = np.stack([f.caller_vector for f in feats])
    zs = np.stack([f.intent_scores for f in feats])
    results: dict[tuple[float, float], float] = {}
    for l2 in _INTENT_L2:
        probs = np.zeros((len(y), len(labels)), dtype=np.float32)
        for test in _loo_folds(len(y)):
            train = [i for i in range(len(y)) if i not in test]
            model = fit_logreg(
                np.concatenate([x[train], taxonomy[0]]),
                [y[i] for i in train] + taxonomy[1],
                labels,
                l2=l2,
                standardize=False,
            )
            probs[test] = model.proba(x[test])
        for weight in _INTENT_WEIGHTS:
            pred = np.argmax(zs + weight * probs, axis=1)
            results[(l2, weight)] = float(np.mean([labels[p] == t for p, t in zip(pred, y, strict=True)]))
    return results


def _sentiment_cv(feats: list[CallFeatures], y: list[str]) -> dict[float, float]:
    x = np.stack([f.sentiment for f in feats])
    results: dict[float, float] = {}
    for l2 in _SENTIMENT_L2:
        hits = 0
        for test in _loo_folds(len(y)):
            train = [i for i in range(len(y)) if i not in test]
            model = fit_logreg(x[train], [y[i] for i in train], SENTIMENT_LABELS, l2=l2)
            pred = model.proba(x[test])
            hits += sum(SENTIMENT_LABELS[int(np.argmax(p))] == y[i] for p, i in zip(pred, test, strict=True))
        results[l2] = hits / len(y)
    return results


def fit(dataset: Path) -> tuple[SupervisedModels, list[str]]:
    """Fit both models on the dev calls of ``dataset``; returns them and a report."""
    calls = [c for c in yaml.safe_load(dataset.read_text(encoding="utf-8")) if c.get("split", "dev") == "dev"]
    config = load_config()
    analyzer = OfflineAnalyzer(config, supervised=False)
    redactor, scorer = Redactor(RedactorOptions()), SentimentScorer()
    feats: list[CallFeatures] = []
    for call in calls:
        request = _request(call, redactor, scorer)
        sentences, embeddings = analyzer.embed(request)
        feats.append(analyzer.features(request, sentences, embeddings))
    labels = list(config.intents)
    y_intent = [c["labels"]["intent"] for c in calls]
    y_sent = [c["labels"]["caller_sentiment"] for c in calls]
    # The taxonomy's own description and examples are training rows too (a label with few
    # dev calls still gets its meaning from the configuration).
    tax_texts = [t for spec in config.intents.values() for t in [spec.description, *spec.examples]]
    tax_labels = [k for k, spec in config.intents.items() for _ in [spec.description, *spec.examples]]
    taxonomy = (analyzer.encoder.encode(tax_texts), tax_labels)

    report = [f"dev calls: {len(calls)} (leave-one-out cross-validation)"]
    zero_shot = np.mean(
        [labels[int(np.argmax(f.intent_scores))] == t for f, t in zip(feats, y_intent, strict=True)]
    )
    rules = np.mean([str(_rule_label(f)) == t for f, t in zip(feats, y_sent, strict=True)])
    report.append(f"intent, zero-shot only: {zero_shot:.1%}; caller sentiment, rules only: {rules:.1%}")
    intent_cv = _intent_cv(feats, y_intent, taxonomy, labels)
    # Ties go to the stronger regularisation and the smaller weight (the simpler model).
    (l2_i, weight), acc_i = max(intent_cv.items(), key=lambda kv: (round(kv[1], 6), -kv[0][0], -kv[0][1]))
    report.append(f"intent CV: best l2={l2_i} weight={weight} accuracy {acc_i:.1%}")
    report.extend(f"  l2={k[0]} w={k[1]}: {v:.1%}" for k, v in sorted(intent_cv.items()))
    sent_cv = _sentiment_cv(feats, y_sent)
    l2_s, acc_s = max(sent_cv.items(), key=lambda kv: (round(kv[1], 6), kv[0]))
    report.append(f"caller sentiment CV: best l2={l2_s} accuracy {acc_s:.1%}")
    report.extend(f"  l2={k}: {v:.1%}" for k, v in sorted(sent_cv.items()))

    x_i = np.concatenate([np.stack([f.caller_vector for f in feats]), taxonomy[0]])
    intent_model = fit_logreg(x_i, y_intent + tax_labels, labels, l2=l2_i, standardize=False)
    sent_model = fit_logreg(np.stack([f.sentiment for f in feats]), y_sent, SENTIMENT_LABELS, l2=l2_s)
    models = SupervisedModels(
        intent=intent_model,
        intent_weight=weight,
        sentiment=sent_model,
        trained_on=f"{dataset.name} split=dev calls={len(calls)} config={config.version}",
    )
    return models, report


def _rule_label(f: CallFeatures) -> str:
    return label_for(f.caller_rollup).value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m callpipe_analyzer.offline.train", description=__doc__)
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    parser.add_argument("--output", type=Path, default=DEFAULT_MODEL_PATH)
    parser.add_argument("--check", action="store_true", help="compare with the shipped file, write nothing")
    args = parser.parse_args(argv)
    if not args.dataset.exists():
        print(f"dataset not found: {args.dataset} (pass --dataset)", file=sys.stderr)
        return 2
    models, report = fit(args.dataset)
    print("\n".join(report))
    if args.check:
        tmp = args.output.with_suffix(".check.json")
        models.save(tmp)
        same = json.loads(tmp.read_text()) == json.loads(args.output.read_text())
        tmp.unlink()
        print("model.json is up to date" if same else "model.json differs from a fresh fit")
        return 0 if same else 1
    models.save(args.output)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
