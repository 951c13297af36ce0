"""``callpipe bench summaries``: ROUGE-L of the analyzer's summary on real dialogues with human summaries.

Each dialogue goes through the analyzer's real path: turns → ``TranscriptReady`` → the analyze
stage (redaction, per-turn sentiment, ``AnalysisRequest``) → the configured engine (offline by
default) → ``CallAnalysis.summary``. It is scored with ROUGE-L F1, best of the three human
summaries (:mod:`callpipe_bench.rouge`, equal to ``rouge-score``'s ``rougeL`` without stemming),
beside two baselines: LEAD (the first customer turn) and LEAD2 (first customer turn + last agent
turn).

    callpipe bench summaries [--set tweetsumm|dialogsum|all] [--split dev|heldout|all]
                             [--limit N] [--show N]

- TweetSumm (``../shared/realdata/text/tweetsumm``; summaries CC0, dialogue text from the public
  Customer Support on Twitter set): split by a fixed hash of ``conversation_id`` (SHA-256 mod 3:
  0 → held-out, a third; the rest → dev). Every choice of the offline summary was made on dev.
- DialogSum test (``../shared/realdata/text/dialogsum``, CC BY-NC-SA: read from ../shared, eval
  only): everyday two-party dialogues, never used for a choice; #Person1# is taken as the
  customer, #Person2# as the agent.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import importlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from callpipe_bench.analyzer_eval import transcript_from_turns
from callpipe_bench.rouge import best_rouge_l

__all__ = ["Dialogue", "load_dialogsum", "load_tweetsumm", "main", "split_of"]

_REALDATA = Path(__file__).resolve().parents[2].parent / "shared" / "realdata" / "text"
TWEETSUMM = _REALDATA / "tweetsumm" / "dialogues_with_summaries.jsonl"
DIALOGSUM = _REALDATA / "dialogsum" / "dialogsum.test.jsonl"
_PERSON_TURN = re.compile(r"^#Person(\d)#:\s*(.*)$")


@dataclass(frozen=True)
class Dialogue:
    id: str
    split: str  # dev or heldout
    turns: list[list[str]]  # [role, text], role caller or agent
    references: list[str]


def split_of(dialogue_id: str) -> str:
    """The fixed split: SHA-256 of the id mod 3 == 0 → held-out (never used for a choice)."""
    return "heldout" if int(hashlib.sha256(dialogue_id.encode()).hexdigest(), 16) % 3 == 0 else "dev"


def load_tweetsumm(path: Path = TWEETSUMM) -> list[Dialogue]:
    dialogues = []
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        turns = [["caller" if t["role"] == "customer" else "agent", t["text"]] for t in row["turns"]]
        refs = [" ".join(s) for s in row["abstractive_summaries"]]
        dialogues.append(Dialogue(row["conversation_id"], split_of(row["conversation_id"]), turns, refs))
    return dialogues


def load_dialogsum(path: Path = DIALOGSUM) -> list[Dialogue]:
    dialogues = []
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        turns = []
        for raw in row["dialogue"].splitlines():
            match = _PERSON_TURN.match(raw.strip())
            if match and match.group(2):
                turns.append(["caller" if match.group(1) == "1" else "agent", match.group(2)])
        refs = [row[k] for k in ("summary1", "summary2", "summary3") if row.get(k)]
        # Never tuned on: the whole set is held-out.
        dialogues.append(Dialogue(row["fname"], "heldout", turns, refs))
    return dialogues


def _lead(turns: list[list[str]]) -> str:
    return next((text for role, text in turns if role == "caller"), "")


def _lead2(turns: list[list[str]]) -> str:
    last_agent = next((text for role, text in reversed(turns) if role == "agent"), "")
    return f"{_lead(turns)} {last_agent}".strip()


async def _summaries(dialogues: list[Dialogue], engine: str) -> list[str]:
    stage = importlib.import_module("callpipe_analyzer.stage")
    wiring = importlib.import_module("callpipe_analyzer.wiring")
    settings = importlib.import_module("callpipe_analyzer.settings").AnalyzerSettings(engine=engine)
    ports = wiring.build_ports(settings)
    out = []
    for d in dialogues:
        result: Any = await stage.analyze(transcript_from_turns(d.id, d.turns), ports)
        out.append(result.analysis.summary if result.analysis is not None else "")
    return out


def _report(name: str, dialogues: list[Dialogue], summaries: list[str]) -> None:
    counts = sorted({len(d.references) for d in dialogues})
    per_dialogue = f"{counts[0]}-{counts[-1]}" if len(counts) > 1 else str(counts[0])
    print(f"\n{name}: ROUGE-L F1, best of the human summaries ({per_dialogue} per dialogue)")
    print(f"{'split':<9} {'n':>4} {'LEAD':>7} {'LEAD2':>7} {'analyzer':>9} {'words':>6}")
    for split in ("dev", "heldout", "all"):
        rows = [(d, s) for d, s in zip(dialogues, summaries, strict=True) if split in ("all", d.split)]
        if not rows:
            continue
        n = len(rows)
        lead = sum(best_rouge_l(_lead(d.turns), d.references) for d, _ in rows) / n
        lead2 = sum(best_rouge_l(_lead2(d.turns), d.references) for d, _ in rows) / n
        ours = sum(best_rouge_l(s, d.references) for d, s in rows) / n
        words = sum(len(s.split()) for _, s in rows) / n
        print(f"{split:<9} {n:>4} {lead:>7.3f} {lead2:>7.3f} {ours:>9.3f} {words:>6.1f}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="callpipe bench summaries", description=__doc__.split("\n")[0])
    parser.add_argument("--set", choices=["tweetsumm", "dialogsum", "all"], default="all")
    parser.add_argument("--split", choices=["dev", "heldout", "all"], default="dev")
    parser.add_argument("--engine", choices=["offline", "llm"], default="offline")
    parser.add_argument("--limit", type=int, default=0, help="first N dialogues of each set (0 = all)")
    parser.add_argument("--show", type=int, default=0, help="print N summaries beside a reference")
    args = parser.parse_args(argv)
    sets: list[tuple[str, list[Dialogue]]] = []
    if args.set in ("tweetsumm", "all"):
        sets.append(("TweetSumm", load_tweetsumm()))
    if args.set in ("dialogsum", "all"):
        sets.append(("DialogSum test (never tuned on)", load_dialogsum()))
    for name, dialogues in sets:
        chosen = [d for d in dialogues if args.split == "all" or d.split == args.split]
        if args.limit:
            chosen = chosen[: args.limit]
        if not chosen:
            continue
        summaries = asyncio.run(_summaries(chosen, args.engine))
        _report(name, chosen, summaries)
        for d, s in list(zip(chosen, summaries, strict=True))[: args.show]:
            print(f"\n[{d.id}] {s}\n  reference: {d.references[0]}")
    return 0
