"""``callpipe bench sentiment-dialogues``: caller sentiment on real customer-care conversations.

    callpipe bench sentiment-dialogues [--split heldout|dev] [--data ../shared/realdata/text] [--show-errors]

The airline-tweet figure (``bench analyzer-real airline``) scores single messages; a call center
records the caller's sentiment over a whole conversation. Here each real TweetSumm dialogue
(customer and agent turns, nobody on the team wrote them) goes through the analyzer exactly as a
transcript does in the service (``stage.prepare``: redaction, per-turn sentiment with the caller's
courtesy stripped, then ``OfflineAnalyzer.analyze_sync``), and the caller's label is compared with
``datasets/sentiment/tweetsumm_caller.yaml`` (labelled by reading, before any analyzer ran on them;
rule in its header). ``mixed`` and ``unclear`` rows are not scored. Two parts, never overlapping:
``heldout`` (the default; nothing is chosen on it, each model version is run once and its figure
recorded in the README) and ``dev`` (``tweetsumm_caller_dev.yaml``, labelled the same way, where
roll-up rules and thresholds are chosen).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from callpipe.models import Role
from callpipe_bench.categories_eval import chat_utterances

__all__ = ["load_labels", "main"]

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA = ROOT.parent / "shared" / "realdata" / "text"
LABEL_FILES = {
    "heldout": ROOT / "datasets" / "sentiment" / "tweetsumm_caller.yaml",
    "dev": ROOT / "datasets" / "sentiment" / "tweetsumm_caller_dev.yaml",
}
SCORED = ("negative", "neutral", "positive")


def load_labels(path: Path = LABEL_FILES["heldout"]) -> dict[str, str]:
    """conversation id → the caller's label, scored rows only."""
    rows = yaml.safe_load(path.read_text(encoding="utf-8"))["dialogues"]
    return {row["id"]: row["caller_sentiment"] for row in rows if row["caller_sentiment"] in SCORED}


def _caller_label(analysis: Any) -> str:
    for party in analysis.speaker_sentiment:
        if party.role is Role.CALLER:
            return str(party.sentiment.value)
    return str(analysis.sentiment.value)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="callpipe bench sentiment-dialogues")
    parser.add_argument("--split", choices=sorted(LABEL_FILES), default="heldout")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--show-errors", action="store_true")
    args = parser.parse_args(argv)
    source = args.data / "tweetsumm" / "dialogues_with_summaries.jsonl"
    if not source.exists():
        print(f"no TweetSumm dialogues at {source}: nothing measured", file=sys.stderr)
        return 2

    from callpipe_analyzer.config import load_config
    from callpipe_analyzer.offline.analyzer import OfflineAnalyzer
    from callpipe_analyzer.ports import AnalysisRequest
    from callpipe_analyzer.redaction import Redactor
    from callpipe_analyzer.sentiment import SentimentScorer
    from callpipe_analyzer.stage import prepare

    labels = load_labels(LABEL_FILES[args.split])
    dialogues: dict[str, list[dict[str, Any]]] = {}
    with source.open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if row["conversation_id"] in labels:
                dialogues[row["conversation_id"]] = row["turns"]
    missing = sorted(set(labels) - set(dialogues))
    if missing:
        print(f"{len(missing)} labelled dialogues not in {source}: {missing[:3]}", file=sys.stderr)
        return 2

    analyzer = OfflineAnalyzer(load_config(None))
    redactor, scorer = Redactor(), SentimentScorer()
    gold: list[str] = []
    pred: list[str] = []
    errors: list[tuple[str, str, str]] = []
    start = time.perf_counter()
    for conversation_id, label in labels.items():
        redaction, sentiments = prepare(chat_utterances(dialogues[conversation_id]), redactor, scorer)
        request = AnalysisRequest(
            call_id=conversation_id, utterances=redaction.utterances, sentiments=sentiments
        )
        predicted = _caller_label(analyzer.analyze_sync(request))
        gold.append(label)
        pred.append(predicted)
        if predicted != label:
            errors.append((conversation_id, label, predicted))
    seconds = time.perf_counter() - start

    n = len(gold)
    right = n - len(errors)
    print(
        f"caller sentiment, real customer-care dialogues (TweetSumm {args.split}, "
        f"{analyzer.prompt_version}): "
        f"accuracy {right / n:.3f} ({right}/{n}), {n / seconds:.1f} dialogues/s"
    )
    totals = Counter(gold)
    hits = Counter(g for g, p in zip(gold, pred, strict=True) if g == p)
    recalls = [hits[label] / totals[label] for label in SCORED if totals[label]]
    for label in SCORED:
        if totals[label]:
            print(f"  {label:<9} recall {hits[label] / totals[label]:.3f} (n={totals[label]})")
    print(f"  balanced accuracy (mean recall) {sum(recalls) / len(recalls):.3f}")
    confused = Counter((g, p) for _, g, p in errors)
    print(
        "  most confused (gold -> predicted): "
        + ", ".join(f"{g}->{p} {c}" for (g, p), c in confused.most_common(4))
    )
    if args.show_errors:
        for conversation_id, label, predicted in errors:
            print(f"    {conversation_id}: {label} -> {predicted}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
