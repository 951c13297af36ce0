"""``callpipe bench categories``: precision / recall of the starter categories, dev vs held-out.

    callpipe bench categories [--config analysis.yaml] [--data ../shared/realdata/text] [--show-errors]
        [--sets dev,tweetsumm,airline-dev,airline-heldout]

* **dev** — ``datasets/categories/dev.yaml``: calls the team wrote, with timings, labelled for all
  six starter categories. The phrase lists of ``analysis.yaml`` were written and tuned on these.
* **held-out** — real customer-care dialogues nobody on the team wrote: TweetSumm (read from
  ``../shared/realdata/text/tweetsumm``; only ids and our labels are in the repository,
  ``datasets/categories/tweetsumm_heldout.yaml``), labelled before the rules were run on them.
  Only the categories a text chat can show are measured there (supervisor requested,
  cancellation threat, no greeting/name); recording disclosure, silence and talk-over need a
  phone call's audio timings, which a chat does not have (``bench categories-calls`` measures
  them on real phone calls).
* **airline-dev / airline-heldout / airline-heldout2** — cancellation threat alone on real
  customer tweets to US airlines (``datasets/categories/airline_cancel_{dev,heldout,heldout2}.yaml``: rows of
  ``../shared/realdata/text/airline_tweets/Tweets.csv`` with a SHA-256 prefix and the team's label,
  read before any rule ran on them): each tweet is one caller turn. The phrase list may be changed
  on the dev part's errors; the held-out part is run once, after.

The categories run exactly as in the analyzer (``QualityRules.assess`` after metrics and
sentiment), without an engine: none of the starter categories reads an analysis field. Chat turns
get phone-like timings (150 words a minute, 1 s between turns) and lose their @handles and links;
a dialogue whose first agent turn would start after 30 s is left out of the greeting measure,
since the category (and a phone call) looks at the first 30 s only.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import html
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from callpipe.models import CallMetrics, Role, Utterance
from callpipe_analyzer.config import load_config
from callpipe_analyzer.metrics import compute_metrics
from callpipe_analyzer.quality import QualityRules
from callpipe_analyzer.sentiment import SentimentScorer

__all__ = ["Tally", "categorize", "chat_utterances", "main"]

ROOT = Path(__file__).resolve().parents[2]
DEV_FILE = ROOT / "datasets" / "categories" / "dev.yaml"
HELDOUT_FILE = ROOT / "datasets" / "categories" / "tweetsumm_heldout.yaml"
AIRLINE_FILES = {
    "airline-dev": ROOT / "datasets" / "categories" / "airline_cancel_dev.yaml",
    "airline-heldout": ROOT / "datasets" / "categories" / "airline_cancel_heldout.yaml",
    "airline-heldout2": ROOT / "datasets" / "categories" / "airline_cancel_heldout2.yaml",
}
SETS = ("dev", "tweetsumm", *AIRLINE_FILES)
DEFAULT_DATA = ROOT.parent / "shared" / "realdata" / "text"
STARTER = (
    "recording_disclosure_missing",
    "no_greeting",
    "supervisor_requested",
    "cancellation_threat",
    "long_silence",
    "agent_talked_over_caller",
)
SECONDS_PER_WORD = 0.4  # 150 words a minute
TURN_GAP_S = 1.0
GREETING_WINDOW_S = 30.0
_HANDLE = re.compile(r"@\w+\s*")
_LINK = re.compile(r"https?://\S+")


def _fmt(value: float | None) -> str:
    return "  – " if value is None else f"{value:.2f}"


@dataclass
class Tally:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    n: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, truth: bool, predicted: bool, call_id: str) -> None:
        self.n += 1
        if truth and predicted:
            self.tp += 1
        elif predicted:
            self.fp += 1
            self.errors.append(f"FP {call_id}")
        elif truth:
            self.fn += 1
            self.errors.append(f"FN {call_id}")

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    def cell(self) -> str:
        if not self.n:
            return "n/a"
        p, r = self.precision, self.recall
        return f"P {_fmt(p)} R {_fmt(r)} ({self.tp}/{self.tp + self.fp}/{self.tp + self.fn} of {self.n})"


def chat_utterances(turns: Sequence[dict[str, Any]]) -> list[Utterance]:
    """Chat turns as timed utterances: handles and links dropped, empty turns skipped."""
    out: list[Utterance] = []
    clock = 0.0
    for turn in turns:
        text = _LINK.sub("", _HANDLE.sub("", turn["text"])).strip()
        if not text:
            continue
        role = Role.AGENT if turn["role"] == "agent" else Role.CALLER
        length = max(1.0, len(text.split()) * SECONDS_PER_WORD)
        out.append(Utterance(role=role, speaker=role.value, start_s=clock, end_s=clock + length, text=text))
        clock += length + TURN_GAP_S
    return out


def categorize(rules: QualityRules, scorer: SentimentScorer, utterances: list[Utterance]) -> set[str]:
    sentiments = [scorer.score(u.text, strip_courtesy=u.role is not Role.AGENT) for u in utterances]
    duration = max((u.end_s for u in utterances), default=0.0)
    metrics: CallMetrics = compute_metrics(utterances, duration, sentiments)
    matches, _ = rules.assess(utterances, sentiments, metrics, None, engine="bench")
    return {m.name for m in matches}


def run_dev(rules: QualityRules, scorer: SentimentScorer, path: Path = DEV_FILE) -> dict[str, Tally]:
    tallies = {name: Tally() for name in STARTER}
    for call in yaml.safe_load(path.read_text(encoding="utf-8"))["calls"]:
        utterances = [
            Utterance(role=Role(r), speaker=r, start_s=float(s), end_s=float(e), text=t)
            for r, s, e, t in call["turns"]
        ]
        found = categorize(rules, scorer, utterances)
        for name in STARTER:
            tallies[name].add(bool(call["labels"][name]), name in found, call["id"])
    return tallies


def run_heldout(
    rules: QualityRules, scorer: SentimentScorer, data: Path, labels: Path = HELDOUT_FILE
) -> dict[str, Tally]:
    dialogues = {}
    with (data / "tweetsumm" / "dialogues_with_summaries.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            dialogues[row["conversation_id"]] = row["turns"]
    tallies = {name: Tally() for name in ("no_greeting", "supervisor_requested", "cancellation_threat")}
    for item in yaml.safe_load(labels.read_text(encoding="utf-8"))["dialogues"]:
        utterances = chat_utterances(dialogues[item["id"]])
        found = categorize(rules, scorer, utterances)
        for name in ("supervisor_requested", "cancellation_threat"):
            tallies[name].add(bool(item[name]), name in found, item["id"][:10])
        first_agent = next((u for u in utterances if u.role is Role.AGENT), None)
        if (
            item["no_greeting"] is not None
            and first_agent is not None
            and first_agent.start_s < GREETING_WINDOW_S
        ):
            tallies["no_greeting"].add(bool(item["no_greeting"]), "no_greeting" in found, item["id"][:10])
    return tallies


def run_airline(rules: QualityRules, scorer: SentimentScorer, data: Path, labels: Path) -> Tally:
    """cancellation_threat on labelled airline tweets, each tweet one caller turn."""
    rows = list(csv.DictReader((data / "airline_tweets" / "Tweets.csv").open(encoding="utf-8")))
    tally = Tally()
    for item in yaml.safe_load(labels.read_text(encoding="utf-8"))["tweets"]:
        text = rows[item["row"]]["text"]
        if hashlib.sha256(text.encode()).hexdigest()[:12] != item["sha256"]:
            raise SystemExit(f"row {item['row']} of Tweets.csv is not the labelled tweet (another version?)")
        if item["cancellation_threat"] is None:
            continue
        utterances = chat_utterances([{"role": "customer", "text": html.unescape(text)}])
        found = categorize(rules, scorer, utterances) if utterances else set()
        tally.add(bool(item["cancellation_threat"]), "cancellation_threat" in found, f"row {item['row']}")
    return tally


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="callpipe bench categories",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", type=Path, default=None, help="analysis.yaml (default: the bundled one)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="../shared/realdata/text")
    parser.add_argument(
        "--sets",
        default=",".join(SETS),
        help=f"comma-separated, of {','.join(SETS)} (held-out parts: run once, after every choice)",
    )
    parser.add_argument("--show-errors", action="store_true", help="list the false positives / negatives")
    args = parser.parse_args(argv)
    sets = [name for name in args.sets.split(",") if name]
    if unknown := set(sets) - set(SETS):
        parser.error(f"unknown sets: {', '.join(sorted(unknown))}")
    rules = QualityRules.from_config(load_config(args.config))
    scorer = SentimentScorer()
    dev = run_dev(rules, scorer) if "dev" in sets else {}
    held: dict[str, Tally] = {}
    if any(name != "dev" for name in sets) and not (args.data / "tweetsumm").exists():
        print(f"real data not found at {args.data} (pass --data)", file=sys.stderr)
        return 2
    if "tweetsumm" in sets:
        held = run_heldout(rules, scorer, args.data)
    print("categories: precision / recall (tp/predicted/actual of n calls)")
    print(f"{'category':<28} {'dev (team-written calls)':<36} held-out (real TweetSumm dialogues)")
    for name in STARTER:
        d = dev.get(name, Tally()).cell() if dev else "not run"
        h = held[name].cell() if name in held else "n/a (needs call audio timings)" if held else "not run"
        print(f"{name:<28} {d:<36} {h}")
    airline = {
        name: run_airline(rules, scorer, args.data, AIRLINE_FILES[name])
        for name in sets
        if name in AIRLINE_FILES
    }
    for name, tally in airline.items():
        print(f"cancellation_threat on real airline tweets ({name}): {tally.cell()}")
    if args.show_errors:
        shown = [
            ("dev", dev),
            ("held-out", held),
            *((n, {"cancellation_threat": t}) for n, t in airline.items()),
        ]
        for split, tallies in shown:
            for name, tally in tallies.items():
                if tally.errors:
                    print(f"{split} {name}: {', '.join(tally.errors)}")
    return 0
