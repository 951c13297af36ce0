"""``callpipe bench analyzer-real``: the offline analyzer on real text nobody on the team wrote.

    callpipe bench analyzer-real airline   [--split dev|heldout] [--per-class N]
    callpipe bench analyzer-real banking77 [--split dev|heldout] [--train-examples K]

Reads ``../shared/realdata/text`` (or ``--data DIR``); nothing of it is in the repository
(airline tweets are CC BY-NC-SA). Each text is one caller turn, analyzed by the same
``OfflineAnalyzer.analyze_sync`` the service runs, with per-turn sentiment scored as the stage
scores it.

- ``airline``: Twitter US Airline Sentiment (Figure Eight, crowd-labelled), caller sentiment,
  3 classes balanced: ``--per-class`` tweets of each class. The split is fixed here: the tweets
  of each class shuffled with seed 13, the first ``DEV_PER_CLASS`` are ``dev`` (for choosing),
  the next ``HELDOUT_PER_CLASS`` are ``heldout`` (run once per model, never tuned on). The
  airline's @handle is removed (a caller on the phone does not say it).
- ``banking77``: PolyAI Banking77 (CC BY 4.0), intent with the bank taxonomy
  ``datasets/bank/analysis.yaml`` (77 intents mapped to 13 by ``banking77_map.yaml``), zero-shot
  from its descriptions and examples. ``test.csv`` shuffled with seed 77: the first
  ``BANK_DEV`` rows are ``dev``, the rest ``heldout``. ``--train-examples K`` adds K utterances
  per bank intent from ``train.csv`` (seed 7) as a CSV file named in the taxonomy's
  ``intent_examples_files``, as a call center adds labelled sentences of its own.
"""

from __future__ import annotations

import argparse
import csv
import random
import re
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import yaml

from callpipe.models import Role, Utterance

__all__ = ["airline_split", "banking77_split", "main"]

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA = ROOT.parent / "shared" / "realdata" / "text"
BANK_DIR = ROOT / "datasets" / "bank"
LABELS = ("negative", "neutral", "positive")
AIRLINE_SEED = 13
DEV_PER_CLASS = 300
HELDOUT_PER_CLASS = 500
BANK_SEED = 77
BANK_DEV = 1000
BANK_TRAIN_SEED = 7
_HANDLE = re.compile(r"@\w+")


def airline_split(data: Path, split: str) -> list[tuple[str, str]]:
    """(text, label) of the fixed balanced split of ``Tweets.csv``."""
    by_label: dict[str, list[str]] = defaultdict(list)
    with (data / "airline_tweets" / "Tweets.csv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            by_label[row["airline_sentiment"]].append(row["text"])
    out: list[tuple[str, str]] = []
    for label in LABELS:
        texts = by_label[label]
        random.Random(AIRLINE_SEED).shuffle(texts)
        part = (
            texts[:DEV_PER_CLASS]
            if split == "dev"
            else texts[DEV_PER_CLASS : DEV_PER_CLASS + HELDOUT_PER_CLASS]
        )
        out.extend((_HANDLE.sub("", t).strip(), label) for t in part)
    return out


def _bank_map() -> dict[str, str]:
    mapping: dict[str, list[str]] = yaml.safe_load((BANK_DIR / "banking77_map.yaml").read_text())
    return {fine: coarse for coarse, fines in mapping.items() for fine in fines}


def banking77_split(data: Path, split: str, name: str = "test.csv") -> list[tuple[str, str]]:
    """(text, bank intent); ``split`` is dev/heldout of test.csv, or ``all`` (train.csv)."""
    to_bank = _bank_map()
    with (data / "banking77" / name).open(encoding="utf-8", newline="") as fh:
        rows = [(r["text"], to_bank[r["category"]]) for r in csv.DictReader(fh)]
    if split == "all":
        return rows
    random.Random(BANK_SEED).shuffle(rows)
    return rows[:BANK_DEV] if split == "dev" else rows[BANK_DEV:]


def _analyzer(config_path: Path | None, extra_examples: dict[str, list[str]] | None = None) -> Any:
    from callpipe_analyzer.config import load_config
    from callpipe_analyzer.offline.analyzer import OfflineAnalyzer

    if not extra_examples:
        return OfflineAnalyzer(load_config(config_path))
    # The labelled sentences reach the taxonomy the way a call center's own would: a CSV file
    # named in analysis.yaml's intent_examples_files (callpipe_analyzer.intent_examples).
    with tempfile.TemporaryDirectory(prefix="callpipe-intents-") as tmp:
        labelled = Path(tmp) / "labelled.csv"
        with labelled.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["text", "intent"])
            writer.writerows((text, label) for label, texts in extra_examples.items() for text in texts)
        raw = yaml.safe_load((config_path or BANK_DIR / "analysis.yaml").read_text(encoding="utf-8"))
        raw["intent_examples_files"] = [str(labelled)]
        config_file = Path(tmp) / "analysis.yaml"
        config_file.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
        return OfflineAnalyzer(load_config(config_file))


def _request(text: str, scorer: Any) -> Any:
    from callpipe_analyzer.ports import AnalysisRequest

    utterance = Utterance(role=Role.CALLER, speaker="caller", start_s=0.0, end_s=5.0, text=text)
    return AnalysisRequest(call_id="real", utterances=[utterance], sentiments=[scorer.score(text)])


def _report(name: str, gold: list[str], pred: list[str], seconds: float) -> None:
    n = len(gold)
    right = sum(g == p for g, p in zip(gold, pred, strict=True))
    print(f"{name}: accuracy {right / n:.3f} ({right}/{n}), {n / seconds:.1f} texts/s")
    totals, hits = Counter(gold), Counter(g for g, p in zip(gold, pred, strict=True) if g == p)
    confused = Counter((g, p) for g, p in zip(gold, pred, strict=True) if g != p)
    for label in sorted(totals):
        print(f"  {label:<28} recall {hits[label] / totals[label]:.3f} (n={totals[label]})")
    print(
        "  most confused (gold -> predicted): "
        + ", ".join(f"{g}->{p} {c}" for (g, p), c in confused.most_common(5))
    )


def _run(analyzer: Any, rows: list[tuple[str, str]], field: str) -> tuple[list[str], float]:
    from callpipe_analyzer.sentiment import SentimentScorer

    scorer = SentimentScorer()
    start = time.perf_counter()
    pred: list[str] = []
    for text, _ in rows:
        analysis = analyzer.analyze_sync(_request(text, scorer))
        pred.append(analysis.intent if field == "intent" else analysis.speaker_sentiment[0].sentiment.value)
    return pred, time.perf_counter() - start


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="callpipe bench analyzer-real",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("task", choices=["airline", "banking77"])
    parser.add_argument("--split", choices=["dev", "heldout"], default="dev")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument(
        "--train-examples", type=int, default=0, help="banking77: train.csv examples per intent"
    )
    args = parser.parse_args(argv)
    if not args.data.exists():
        print(f"real data not found at {args.data} (pass --data)", file=sys.stderr)
        return 2
    if args.task == "airline":
        rows = airline_split(args.data, args.split)
        pred, seconds = _run(_analyzer(None), rows, "sentiment")
        _report(f"airline tweets caller sentiment ({args.split})", [g for _, g in rows], pred, seconds)
        return 0
    extra: dict[str, list[str]] = {}
    if args.train_examples:
        train = banking77_split(args.data, "all", "train.csv")
        random.Random(BANK_TRAIN_SEED).shuffle(train)
        for text, label in train:
            if len(extra.setdefault(label, [])) < args.train_examples:
                extra[label].append(text)
    rows = banking77_split(args.data, args.split)
    pred, seconds = _run(_analyzer(BANK_DIR / "analysis.yaml", extra), rows, "intent")
    name = f"banking77 intent, bank taxonomy, {args.train_examples} train examples/intent ({args.split})"
    _report(name, [g for _, g in rows], pred, seconds)
    return 0
