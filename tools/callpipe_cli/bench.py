"""``callpipe bench NAME``: run one benchmark or evaluation module and print its figures."""

from __future__ import annotations

import importlib
import inspect
import sys

__all__ = ["BENCHMARKS", "main"]

BENCHMARKS: dict[str, tuple[str, str]] = {
    "runner": ("callpipe_bench.runner_bench", "stage runner calls/s, 100 ms step, concurrency 32"),
    "ingest": ("callpipe_bench.ingest_bench", "webhook → broker-ack latency p50/p95 and requests/s"),
    "transcriber": ("callpipe_bench.transcriber_eval", "WER, role accuracy and RTF on synthetic calls"),
    "analyzer": ("callpipe_bench.analyzer_bench", "analyzer calls/s at 1 s LLM latency vs sequential"),
    "analyzer-eval": ("callpipe_bench.analyzer_eval", "per-field accuracy on the labelled call set"),
    "summaries": ("callpipe_bench.summary_eval", "summary ROUGE-L on TweetSumm / DialogSum vs LEAD, LEAD2"),
    "competitors": (
        "callpipe_bench.competitor_eval",
        "open-set competitor precision / recall, dev and held-out",
    ),
    "analyzer-real": (
        "callpipe_bench.analyzer_real",
        "sentiment / intent on real text (airline tweets, Banking77)",
    ),
    "sentiment-dialogues": (
        "callpipe_bench.sentiment_dialogues",
        "caller sentiment over real customer-care dialogues (TweetSumm, held-out)",
    ),
    "categories": (
        "callpipe_bench.categories_eval",
        "starter categories precision / recall, dev vs held-out (TweetSumm)",
    ),
    "categories-calls": (
        "callpipe_bench.categories_calls",
        "starter categories on real phone calls (SpokenWOZ turns; stereo audio, truth from the channels)",
    ),
    "sink": ("callpipe_bench.sink_bench", "sink rows/s vs one INSERT per call; insights p95"),
    "call-status": (
        "callpipe_bench.call_status_probe",
        "seconds until a failed/declined call shows its status",
    ),
    "page": (
        "callpipe_bench.page_bench",
        "built-in page over 10,000 calls: API ms per request, page ready ms",
    ),
    "audio-redaction": (
        "callpipe_bench.audio_redaction_eval",
        "a spoken card number before / after the recording's redaction",
    ),
    "alerts": (
        "callpipe_bench.alerts_bench",
        "alerts on 10,000 simulated calls (event time): once with a spike, none without",
    ),
    "erase": ("callpipe_bench.erase_bench", "erase 1,000 calls by phone number among 20,000: seconds"),
    "reprocess": (
        "callpipe_bench.reprocess_bench",
        "re-analyse 10,000 stored calls: calls/s, count FINAL and rollups unchanged",
    ),
    "llm-real": (
        "callpipe_bench.llm_real",
        "local llama-server LLM engine vs offline on real TweetSumm: accuracy, ROUGE-L, calls/s",
    ),
    "reprocess-live": (
        "callpipe_bench.reprocess_live_bench",
        "live calls' latency while a backfill drips into the same topic (real broker + analyzer)",
    ),
    "all": ("callpipe_bench.all_bench", "every benchmark, bounded (--quick), one table → artifacts/bench.md"),
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in BENCHMARKS:
        print("usage: callpipe bench NAME [ARGS…]\n\nbenchmarks:", file=sys.stderr)
        for name, (_, help_) in BENCHMARKS.items():
            print(f"  {name:<14} {help_}", file=sys.stderr)
        return 2
    module = importlib.import_module(BENCHMARKS[argv[0]][0])
    entry = module.main
    # Benchmarks written as main() (reading sys.argv) and as main(argv) are both accepted.
    if inspect.signature(entry).parameters:
        return int(entry(argv[1:]) or 0)
    sys.argv = [f"callpipe bench {argv[0]}", *argv[1:]]
    return int(entry() or 0)
