"""``callpipe bench analyzer-eval``: per-field accuracy of the configured analyzer on the labelled set.

Runs the analyzer service's real stage function (redaction → metrics → engine) on every call of
``datasets/analyzer/calls.yaml`` and prints accuracy per field for the ``dev`` split (used while
writing the rules), the ``heldout`` split (never used for tuning) and both together.

    callpipe bench analyzer-eval [--engine offline|llm] [--dataset PATH] [--show-errors]
                                 [--split dev|heldout|all] [--batch PREFIX]

``--batch hc-`` adds, per split, a column for the calls whose id starts with the prefix and one for
the others (e.g. a newly written held-out batch beside the older held-out calls), from one run;
``--batch hd-,hc-`` a column per prefix (the first that matches) and one for the rest.

``--engine llm`` uses ``ANALYZER_LLM_*`` settings from the environment (any OpenAI-compatible
endpoint); it refuses to run without ``OPENAI_API_KEY`` or ``ANALYZER_LLM_BASE_URL``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from callpipe.models import CallAnalyzed, Role, TranscriptReady
from callpipe_bench.transcript_input import transcript_input

__all__ = ["DEFAULT_DATASET", "load_calls", "main", "transcript_from_turns"]

DEFAULT_DATASET = Path(__file__).resolve().parents[2] / "datasets" / "analyzer" / "calls.yaml"
_WORDS_PER_SECOND = 2.6


def transcript_from_turns(call_id: str, turns: list[list[str]]) -> TranscriptReady:
    """A labelled call as a dual-channel transcript (caller on channel 0) with synthetic timings
    (speech rate, 0.4 s gaps), read through the transcript input path a user's file takes."""
    utterances: list[dict[str, Any]] = []
    t = 0.5
    for role_name, text in turns:
        role = Role(role_name)
        length = max(0.6, len(text.split()) / _WORDS_PER_SECOND)
        channel = 0 if role is Role.CALLER else 1
        utterances.append(
            {
                "role": role.value,
                "speaker": f"ch{channel}",
                "channel": channel,
                "start_s": round(t, 2),
                "end_s": round(t + length, 2),
                "text": text,
            }
        )
        t += length + 0.4
    document = {
        "language": "en",
        "engine": "dataset",
        "model": "labelled-text",
        "channel_count": 2,
        "utterances": utterances,
    }
    return transcript_input(document, call_id=call_id)


def load_calls(path: Path = DEFAULT_DATASET) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return calls


@dataclass
class _Scores:
    hits: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    totals: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    comp_tp: int = 0
    comp_fp: int = 0
    comp_fn: int = 0

    def add(self, name: str, ok: bool) -> None:
        self.totals[name] += 1
        self.hits[name] += int(ok)

    def row(self, name: str) -> str:
        n = self.totals[name]
        return f"{self.hits[name] / n:6.1%} ({self.hits[name]}/{n})" if n else "   n/a"


_RISK_ORDER = ("low", "medium", "high")


def _worse(first: str, second: str) -> str:
    return max(first, second, key=_RISK_ORDER.index)


def _score(
    scores: _Scores, labels: dict[str, Any], result: CallAnalyzed, errors: list[str], cid: str
) -> None:
    analysis = result.analysis
    if analysis is None:
        scores.add("intent", False)
        return
    by_role = {s.role.value: s.sentiment.value for s in analysis.speaker_sentiment}
    checks = {
        "intent": (labels["intent"], analysis.intent),
        "sentiment": (labels["sentiment"], analysis.sentiment.value),
        "caller_sentiment": (labels["caller_sentiment"], by_role.get("caller")),
        "agent_sentiment": (labels["agent_sentiment"], by_role.get("agent")),
        # The labelling guide's `escalation` is "escalates, churns or complains" (one label written
        # before churn_risk existed): the worse of the two risks is what it labels.
        "escalation": (
            labels["escalation"],
            _worse(analysis.escalation_risk.value, analysis.churn_risk.value),
        ),
        "has_action_items": (bool(labels["action_items"]), bool(analysis.action_items)),
        "action_item_count": (len(labels["action_items"]), len(analysis.action_items)),
    }
    for name, (want, got) in checks.items():
        ok = want == got if name != "action_item_count" else abs(int(str(want)) - int(str(got))) <= 0
        scores.add(name, ok)
        if not ok:
            errors.append(f"{cid:10} {name:18} want={want!s:18} got={got}")
    want_c = set(labels["competitors"])
    got_c = {m.name for m in analysis.competitor_mentions}
    scores.comp_tp += len(want_c & got_c)
    scores.comp_fp += len(got_c - want_c)
    scores.comp_fn += len(want_c - got_c)
    if want_c != got_c:
        errors.append(f"{cid:10} competitors        want={sorted(want_c)} got={sorted(got_c)}")
    # PCI: no Luhn-valid 13–19 digit sequence may survive in any stored utterance.
    luhn = importlib.import_module("callpipe_analyzer.redaction").luhn_valid
    leaked = any(
        luhn(m) for u in result.utterances for m in re.findall(r"\d{13,19}", re.sub(r"[\s-]", "", u.text))
    )
    scores.add("no_card_leak", not leaked)


def _build_ports(engine: str) -> Any:
    # Loaded lazily: the other benchmarks of this package run without the analyzer extra.
    wiring = importlib.import_module("callpipe_analyzer.wiring")
    settings_mod = importlib.import_module("callpipe_analyzer.settings")
    settings = settings_mod.AnalyzerSettings(engine=engine)
    return wiring.build_ports(settings)


async def _run(
    calls: list[dict[str, Any]],
    engine: str,
    show_errors: bool,
    only_split: str = "all",
    batch: str | None = None,
) -> int:
    stage = importlib.import_module("callpipe_analyzer.stage")
    ports = _build_ports(engine)
    per_split: dict[str, _Scores] = defaultdict(_Scores)
    errors: list[str] = []
    for call in calls:
        event = transcript_from_turns(call["id"], call["turns"])
        result: CallAnalyzed = await stage.analyze(event, ports)
        own = call.get("split", "dev")
        groups = [own, "all"]
        if batch:
            prefix = next((p for p in batch.split(",") if call["id"].startswith(p)), None)
            groups.insert(1, f"{own}:{prefix}*" if prefix else f"{own}:other")
        for split in groups:
            # Errors are listed for the dev split only (unless --split heldout asks for them):
            # reading held-out mistakes while changing rules would make it a dev split.
            listed = split == own and (split == "dev" or only_split == "heldout")
            _score(per_split[split], call["labels"], result, errors if listed else [], call["id"])
    fields = [
        "intent",
        "sentiment",
        "caller_sentiment",
        "agent_sentiment",
        "escalation",
        "has_action_items",
        "action_item_count",
        "no_card_leak",
    ]
    prefixes = batch.split(",") if batch else []
    order = [
        "dev",
        *(f"dev:{p}*" for p in prefixes),
        "dev:other",
        "heldout",
        *(f"heldout:{p}*" for p in prefixes),
        "heldout:other",
        "all",
    ]
    splits = [s for s in order if s in per_split]
    print(f"analyzer eval: engine={engine} calls={len(calls)} model={ports.analyzer.model}")
    print(f"{'field':20}" + "".join(f"{s:>20}" for s in splits))
    for name in fields:
        print(f"{name:20}" + "".join(f"{per_split[s].row(name):>20}" for s in splits))
    for label, attr in (("competitor_precision", "fp"), ("competitor_recall", "fn")):
        cells = []
        for s in splits:
            sc = per_split[s]
            denom = sc.comp_tp + (sc.comp_fp if attr == "fp" else sc.comp_fn)
            cells.append(f"{sc.comp_tp / denom:6.3f} ({sc.comp_tp}/{denom})" if denom else "n/a")
        print(f"{label:20}" + "".join(f"{c:>20}" for c in cells))
    if show_errors:
        print(
            "\nerrors (held-out errors only with --split heldout):"
            if only_split != "heldout"
            else "\nerrors:"
        )
        print("\n".join(errors))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="callpipe bench analyzer-eval", description=__doc__)
    parser.add_argument("--engine", choices=["offline", "llm"], default="offline")
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    parser.add_argument("--split", choices=["dev", "heldout", "all"], default="all")
    parser.add_argument("--show-errors", action="store_true")
    parser.add_argument(
        "--batch", metavar="PREFIX[,PREFIX]", help="score calls whose id starts with each PREFIX apart"
    )
    args = parser.parse_args(argv)
    if args.engine == "llm" and not (
        os.environ.get("OPENAI_API_KEY") or os.environ.get("ANALYZER_LLM_BASE_URL")
    ):
        print("analyzer-eval --engine llm needs OPENAI_API_KEY or ANALYZER_LLM_BASE_URL", file=sys.stderr)
        return 2
    calls = load_calls(args.dataset)
    if args.split != "all":
        calls = [c for c in calls if c.get("split", "dev") == args.split]
    return asyncio.run(_run(calls, args.engine, args.show_errors, args.split, args.batch))


if __name__ == "__main__":
    raise SystemExit(main())
