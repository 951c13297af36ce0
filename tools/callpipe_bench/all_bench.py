"""``callpipe bench all``: every benchmark, bounded, in ONE table (printed and written to a file).

    callpipe bench all [--quick] [--out artifacts/bench.md] [--only PART ...]

Parts (each reuses the benchmark that owns the figure; ``--quick`` shrinks the sizes):

- ``ingest``      ingest_bench.run_bench: signed Twilio callbacks → broker ack, requests/s, p50/p95.
- ``transcriber`` transcriber_eval in a subprocess (it loads the engine with its own settings):
                  calls/s and real-time factor on the dual-channel synthetic sample calls.
- ``analyzer``    analyzer_bench.run_llm_bench vs run_sequential at a fixed 1 s LLM latency (ratio),
                  and run_offline (the default offline engine) calls/s.
- ``sink``        callpipe_bench.sink_bench in a subprocess (chdb: one data directory per process):
                  rows/s vs one INSERT per call (ratio), insights p95 over 1M seeded calls.
- ``e2e``         the four services as processes (LocalPipeline, tiny.en greedy), short synthetic
                  calls uploaded one at a time; per call, from its row in ClickHouse:
                  overhead = (inserted_at − received_at) − Σ engine steps, where the engine steps
                  are the timing stages that run a model: ``transcriber.stt``,
                  ``transcriber.diarize`` (mono only) and ``analyzer.analyze`` (the whole analyzer
                  step: sentiment, redaction and the analyzer engine). Download, archive, audio
                  decode, Kafka hops, consumer polling and the sink's batch wait are overhead.
                  One call in flight at a time, so no call's figure includes queueing behind
                  another call's engine time.

Uses KAFKA_BOOTSTRAP_SERVERS when set, else starts one LocalKafka for the whole run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from callpipe_bench.ingest_bench import percentile
from callpipe_tools.local.kafka import given_or_local_broker

if TYPE_CHECKING:
    from callpipe_cli.localrun import LocalPipeline

__all__ = ["ENGINE_STAGES", "Row", "engine_seconds", "main", "overhead_figures"]

PARTS = ("ingest", "transcriber", "analyzer", "sink", "e2e")
# Timing stages that are model/engine compute (see the module docstring for why these).
ENGINE_STAGES = frozenset({"transcriber.stt", "transcriber.diarize", "analyzer.analyze"})


@dataclass(frozen=True)
class Sizes:
    ingest_requests: int
    transcriber_model: str | None  # None: the service default
    transcriber_beam: int | None
    llm_calls: int
    sequential_calls: int
    offline_calls: int
    sink_messages: int
    sink_duplicates: int
    sink_baseline: int
    seed_calls: int
    query_requests: int
    e2e_calls: int


FULL = Sizes(2000, None, None, 300, 10, 20, 100_000, 5_000, 2_000, 1_000_000, 200, 20)
QUICK = Sizes(300, "tiny.en", 1, 96, 4, 3, 20_000, 1_000, 500, 1_000_000, 50, 10)


@dataclass
class Row:
    figure: str
    value: str
    conditions: str = ""


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def add(self, figure: str, value: str, conditions: str = "") -> None:
        self.rows.append(Row(figure, value, conditions))

    def markdown(self, header: str) -> str:
        lines = [header, "", "| figure | value | conditions |", "|---|---|---|"]
        lines += [f"| {r.figure} | {r.value} | {r.conditions} |" for r in self.rows]
        if self.failures:
            lines += ["", "Parts that failed:", *(f"- {f}" for f in self.failures)]
        return "\n".join(lines) + "\n"


# -- helpers ----------------------------------------------------------------------------------


def _run_module(module: str, args: list[str], env: dict[str, str], timeout_s: float) -> str:
    """Output of ``python -m module args`` (echoed to stderr so a long run shows progress)."""
    print(f"$ python -m {module} {' '.join(args)}", file=sys.stderr)
    result = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", module, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    sys.stderr.write(result.stdout)
    # Exit code 1 means "a target was missed" in these benchmarks: the figures are still valid.
    if result.returncode not in (0, 1):
        raise RuntimeError(f"{module} exited {result.returncode}: {result.stderr[-1500:]}")
    return result.stdout


def _match(pattern: str, text: str) -> re.Match[str]:
    found = re.search(pattern, text, re.MULTILINE)
    if found is None:
        raise RuntimeError(f"figure not found in the output ({pattern!r})")
    return found


# -- parts ------------------------------------------------------------------------------------


def _ingest(report: Report, bootstrap: str, sizes: Sizes) -> None:
    from callpipe_bench.ingest_bench import run_bench

    res = run_bench(bootstrap, requests=sizes.ingest_requests, clients=4, max_seconds=120.0)
    lat = sorted(res.latencies_s)
    report.add(
        "ingest: webhook requests/s",
        f"{res.ok / res.wall_s:.0f} req/s",
        f"{res.ok} signed callbacks, 4 closed-loop clients, 200 only after broker ack (acks=all)",
    )
    report.add(
        "ingest: webhook → ack p50 / p95",
        f"{percentile(lat, 50) * 1000:.1f} / {percentile(lat, 95) * 1000:.1f} ms",
        f"{res.events_on_topic} events on the topic for {res.ok} answered 200"
        + (f"; errors {res.errors}" if res.errors else ""),
    )
    if res.errors or res.events_on_topic != res.ok:
        report.failures.append(f"ingest: errors {res.errors}, {res.events_on_topic} events for {res.ok}")


def _transcriber(report: Report, sizes: Sizes, env: dict[str, str]) -> None:
    args = ["--scripts", "sample"]
    if sizes.transcriber_model:
        args += ["--model", sizes.transcriber_model]
    if sizes.transcriber_beam:
        args += ["--beam-size", str(sizes.transcriber_beam)]
    out = _run_module("callpipe_bench.transcriber_eval", args, env, 1200)
    engine = _match(r"^engine=(\S+) model=(\S+) beam=(\S+)", out)
    audio_s = wall_s = 0.0
    calls = 0
    for line in out.splitlines():
        parts = line.split()
        # Per-call lines: call, mode, duration, WER, role accuracy, RTF, cpuRTF, low_conf.
        if len(parts) == 8 and parts[1] == "dual":
            duration, rtf = float(parts[2]), float(parts[5])
            audio_s += duration
            wall_s += rtf * duration
            calls += 1
    if not calls:
        raise RuntimeError("transcriber eval printed no per-call lines")
    overall = _match(r"^OVERALL all dual: WER=(\S+) .*RTF mean=(\S+) max=(\S+) cpuRTF@\d+ mean=(\S+)", out)
    conditions = (
        f"{engine[1]} {engine[2]}, beam {engine[3]}; {calls} dual-channel 8 kHz synthetic calls "
        f"({audio_s / calls:.0f} s avg), one at a time"
    )
    report.add("transcriber: calls/s", f"{calls / wall_s:.2f} calls/s", conditions)
    report.add(
        "offline transcription RTF (mean / max)",
        f"{float(overall[2]):.3f} / {float(overall[3]):.3f}",
        f"wall time / audio duration; cpuRTF@2 {float(overall[4]):.3f}; WER {float(overall[1]):.3f}",
    )


def _analyzer(report: Report, bootstrap: str, sizes: Sizes) -> None:
    from callpipe_bench.analyzer_bench import run_llm_bench, run_offline, run_sequential

    llm = asyncio.run(run_llm_bench(bootstrap, sizes.llm_calls, 32, 1.0))
    seq = asyncio.run(run_sequential(bootstrap, sizes.sequential_calls, 1.0))
    report.add(
        "analyzer: calls/s at 1 s LLM latency",
        f"{llm['calls_per_s']:.1f} calls/s (steady {llm['steady_per_s']:.1f})",
        f"{llm['calls']:.0f} calls, 1 partition, one instance, max_in_flight 32 (ceiling 32/s)",
    )
    report.add(
        "analyzer: vs seed's sequential loop",
        f"{llm['calls_per_s'] / seq['calls_per_s']:.1f}× ({seq['calls_per_s']:.2f} calls/s sequential)",
        f"sequential: consume → LLM → produce+flush → commit, {seq['calls']:.0f} calls",
    )
    off = asyncio.run(run_offline(sizes.offline_calls))
    report.add(
        "analyzer: offline engine calls/s",
        f"{off['calls_per_s']:.2f} calls/s",
        f"MiniLM + spaCy + VADER + rules, {off['call_minutes']:.1f}-minute transcript, "
        f"{off['calls']:.0f} calls",
    )


def _sink(report: Report, sizes: Sizes, env: dict[str, str]) -> None:
    args = [
        f"--messages={sizes.sink_messages}",
        f"--duplicates={sizes.sink_duplicates}",
        f"--baseline={sizes.sink_baseline}",
        f"--seed-calls={sizes.seed_calls}",
        f"--requests={sizes.query_requests}",
    ]
    out = _run_module("callpipe_bench.sink_bench", args, env, 1800)
    batch = float(_match(r"^\s*batch path\s+(\d+) analyses/s", out)[1])
    single = float(_match(r"^\s*one INSERT per call\s+(\d+) analyses/s", out)[1])
    # The bench's own ratio: computed from unrounded rates (the per-call rate prints as an integer).
    ratio = float(_match(r"^\s*ratio batch / per-call\s+([\d.]+)", out)[1])
    report.add(
        "sink: rows/s",
        f"{batch:.0f} analyses/s",
        f"{sizes.sink_messages} + {sizes.sink_duplicates} duplicates from a 6-partition topic into chdb",
    )
    report.add(
        "sink: vs one INSERT per call",
        f"{ratio:.1f}× ({single:.0f}/s per-call)",
        f"seed loop: decode in Python, one INSERT per call, {sizes.sink_baseline} calls",
    )
    for path in ("/insights\\?days=7", "/trends"):
        found = _match(rf"^\s*{path}\s+p50\s+([\d.]+) ms\s+p95\s+([\d.]+) ms", out)
        report.add(
            f"insights query p95 {path.replace(chr(92), '')}",
            f"{float(found[2]):.1f} ms (p50 {float(found[1]):.1f})",
            f"{sizes.seed_calls:,} calls in chdb, {sizes.query_requests} requests, in-process ASGI client",
        )


# -- end-to-end overhead ----------------------------------------------------------------------


def engine_seconds(stages: list[str], seconds: list[float]) -> float:
    """Σ of the engine steps of one call's stage timings (``ENGINE_STAGES``)."""
    return sum(s for name, s in zip(stages, seconds, strict=True) if name in ENGINE_STAGES)


def overhead_figures(rows: list[list[Any]]) -> dict[str, float]:
    """p50/p95 of end-to-end latency, engine time and overhead, from rows of
    (received_at, analyzed_at, inserted_at, timing_stages, timing_seconds) as ClickHouse returns
    them (timestamps as ISO strings or datetimes). The overhead is split into ``steps`` (timed
    non-engine steps: download, archive, decode) and ``hops`` (the rest: Kafka hops, consumer
    polling, the sink's batch wait, the ClickHouse insert); ``hops`` again into ``upstream``
    (ingest → transcriber → analyzer, until the analysis is made) and ``sink`` (analyzed_at →
    inserted_at: the last hop, the sink's batch wait and the insert)."""

    def ts(value: object) -> datetime:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    e2e, engine, overhead, steps, sink = [], [], [], [], []
    for received, analyzed, inserted, stages, seconds in rows:
        total = (ts(inserted) - ts(received)).total_seconds()
        sink.append((ts(inserted) - ts(analyzed)).total_seconds())
        spent = engine_seconds(list(stages), [float(s) for s in seconds])
        e2e.append(total)
        engine.append(spent)
        overhead.append(total - spent)
        # Timed steps that are not engine work (download, archive, decode); "*.total" spans the
        # others and would count them twice.
        steps.append(
            sum(
                float(sec)
                for name, sec in zip(stages, seconds, strict=True)
                if name not in ENGINE_STAGES and not str(name).endswith(".total")
            )
        )
    figures: dict[str, float] = {"calls": float(len(rows))}
    hops = [o - s for o, s in zip(overhead, steps, strict=True)]
    upstream = [h - k for h, k in zip(hops, sink, strict=True)]
    for name, values in (
        ("e2e", e2e),
        ("engine", engine),
        ("overhead", overhead),
        ("steps", steps),
        ("hops", hops),
        ("upstream", upstream),
        ("sink", sink),
    ):
        ordered = sorted(values)
        figures[f"{name}_p50"] = percentile(ordered, 50)
        figures[f"{name}_p95"] = percentile(ordered, 95)
    return figures


def _e2e_recordings(out: Path, calls: int) -> list[Path]:
    from callpipe.models import Role
    from callpipe_tools.synthetic.calls import CallScript, ScriptTurn, generate_call, pad_with_silence

    lines = [
        ("Thank you for calling Acme, this is Jordan. How can I help?", "I was charged twice on my bill."),
        ("Acme customer care, this is Sam speaking.", "I would like to cancel, Globex is cheaper."),
        ("Hello, you are speaking with Lee at Acme.", "My package is a week late."),
    ]
    bases = []
    for i, (agent, caller) in enumerate(lines):
        script = CallScript(
            call_id=f"bench-e2e-{i}",
            turns=[ScriptTurn(role=Role.AGENT, text=agent), ScriptTurn(role=Role.CALLER, text=caller)],
        )
        bases.append(generate_call(script, out, sample_rate=8000).stereo_path)
    paths = []
    for n in range(calls):
        # Same speech, a few ms more trailing silence: distinct bytes, so ingest sees a new recording.
        paths.append(pad_with_silence(bases[n % len(bases)], 80 * (n + 1), out / f"e2e-{n:03d}.wav"))
    return paths


def _e2e(report: Report, bootstrap: str, sizes: Sizes) -> None:
    from callpipe_cli.localrun import DELIVERY_ENGINE_ENV, LocalPipeline, query_chdb, topic_env

    with tempfile.TemporaryDirectory(prefix="callpipe-bench-e2e-") as tmp:
        work = Path(tmp)
        recordings = _e2e_recordings(work / "audio", sizes.e2e_calls)
        audio_s = 0.0
        for path in recordings:
            with wave.open(str(path), "rb") as audio:
                audio_s += audio.getnframes() / audio.getframerate()
        prefix = f"bench{os.urandom(3).hex()}"
        env = {**topic_env(prefix), **DELIVERY_ENGINE_ENV}
        pipeline = LocalPipeline(bootstrap, work / "pipeline", extra_env=env)
        headers = {"Authorization": f"Bearer {pipeline.api_token}"}
        try:
            pipeline.start()
            for path in recordings:
                _upload_and_wait(pipeline, path, headers)
        finally:
            codes = pipeline.stop()
        if any(code != 0 for code in codes.values()):
            report.failures.append(f"e2e: service exit codes {codes}")
        rows = query_chdb(
            pipeline.chdb_path,
            "SELECT received_at, analyzed_at, inserted_at, timing_stages, timing_seconds "
            "FROM {db:Identifier}.calls FINAL",
        )
    if len(rows) != sizes.e2e_calls:
        raise RuntimeError(f"{len(rows)} rows in ClickHouse for {sizes.e2e_calls} calls")
    f = overhead_figures(rows)
    conditions = (
        f"{sizes.e2e_calls} calls ({audio_s / len(recordings):.1f} s dual-channel avg), 4 service "
        "processes, tiny.en greedy, "
        "offline analyzer, one call in flight"
    )
    report.add(
        "e2e overhead p50 / p95 (excl. engine)",
        f"{f['overhead_p50']:.2f} / {f['overhead_p95']:.2f} s",
        conditions + "; (inserted_at − received_at) − Σ(stt, diarize, analyze)",
    )
    report.add(
        "e2e overhead split, p50",
        f"{f['steps_p50']:.2f} s timed steps + {f['hops_p50']:.2f} s between stages "
        f"({f['upstream_p50']:.2f} s up to the analysis, {f['sink_p50']:.2f} s analysis → stored)",
        "timed steps: download, archive, decode; up to the analysis: two Kafka hops, polling, "
        "(de)serialization; analysis → stored: one hop, the sink's batch wait, the insert",
    )
    report.add(
        "e2e latency p50 / p95 (incl. engine)",
        f"{f['e2e_p50']:.2f} / {f['e2e_p95']:.2f} s",
        f"engine time p50 {f['engine_p50']:.2f} s, p95 {f['engine_p95']:.2f} s",
    )


def _upload_and_wait(
    pipeline: LocalPipeline, path: Path, headers: dict[str, str], timeout_s: float = 120.0
) -> None:
    """Upload one call and return once the insights API serves it (one call in flight)."""
    ingest_url, insights_url = pipeline.ingest_url, pipeline.insights_url
    read = {"Authorization": f"Bearer {pipeline.read_token}"}  # the upload token cannot read
    with path.open("rb") as audio:
        response = httpx.post(
            f"{ingest_url}/recordings",
            headers=headers,
            files={"file": (path.name, audio, "audio/wav")},
            data={"metadata": json.dumps({"channel_roles": ["agent", "caller"], "queue": "bench"})},
            timeout=60,
        )
    if response.status_code != 201:
        raise RuntimeError(f"upload of {path.name} answered {response.status_code}: {response.text}")
    call_id = response.json()["call_id"]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if httpx.get(f"{insights_url}/calls/{call_id}", headers=read, timeout=10).status_code == 200:
            return
        time.sleep(0.1)
    raise TimeoutError(f"call {call_id} not in ClickHouse after {timeout_s:.0f} s")


# -- entry point ------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="callpipe bench all", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (minutes, not tens of minutes)")
    parser.add_argument("--out", type=Path, default=Path("artifacts/bench.md"), help="table file")
    parser.add_argument("--only", nargs="+", choices=PARTS, default=list(PARTS), help="parts to run")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    report = Report()
    started = time.monotonic()
    with given_or_local_broker(os.environ.get("KAFKA_BOOTSTRAP_SERVERS")) as bootstrap:
        env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap}
        steps: dict[str, Callable[[], None]] = {
            "ingest": lambda: _ingest(report, bootstrap, sizes),
            "transcriber": lambda: _transcriber(report, sizes, env),
            "analyzer": lambda: _analyzer(report, bootstrap, sizes),
            "sink": lambda: _sink(report, sizes, env),
            "e2e": lambda: _e2e(report, bootstrap, sizes),
        }
        for part in PARTS:
            if part not in args.only:
                continue
            print(f"== {part}", file=sys.stderr)
            try:
                steps[part]()
            except Exception as exc:  # noqa: BLE001 - one part failing must not hide the figures of the others
                report.failures.append(f"{part}: {type(exc).__name__}: {exc}")
                print(f"{part} failed: {exc!r}", file=sys.stderr)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    header = (
        f"## callpipe benchmarks ({'--quick' if args.quick else 'full'}) — "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, load average {load}, "
        f"{time.monotonic() - started:.0f} s"
    )
    table = report.markdown(header)
    print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(table)
    print(f"written to {args.out}", file=sys.stderr)
    return 0 if not report.failures else 1


if __name__ == "__main__":
    raise SystemExit(main())
