"""``callpipe bench analyzer``: analyzer throughput, LLM path and offline path.

(a) LLM path. A local OpenAI-compatible chat-completions server on 127.0.0.1 answers every request
after a fixed 1 s with a valid structured-output body — a latency harness in this benchmark, not
the product. N ``TranscriptReady`` events go onto a one-partition topic of a real broker; ONE
analyzer instance (the service's own stage function, LLM engine, through the real stage runner at
``max_in_flight`` 32) turns them into ``CallAnalyzed``. Throughput = N / (time from the first call
taken to the N-th output acknowledged). The ceiling is 32 calls/s (32 slots × 1 s); the target is
≥ 28 calls/s. Beside it, the seed-style sequential loop on a smaller N: consume one message,
analyze it (one LLM request), produce and flush, commit, repeat — about 1 call/s.

(b) Offline path. The default offline analyzer (MiniLM + spaCy + VADER + rules) on a 5-minute call
transcript, one call after the other in one process (numpy's BLAS uses the cores): calls/s.

    python -m callpipe_bench.analyzer_bench [--calls 300] [--sequential-calls 10] [--concurrency 32]
        [--latency-s 1.0] [--offline-calls 20] [--skip-llm] [--skip-offline]

Uses KAFKA_BOOTSTRAP_SERVERS when set, else starts a LocalKafka for the run.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import re
import threading
import time
import uuid
from typing import Any

import httpx
from prometheus_client import REGISTRY

from callpipe.avro import AvroSerde, LocalSchemaRegistry
from callpipe.kafka import EventProducer, ensure_topics
from callpipe.models import (
    CallAnalysis,
    CallAnalyzed,
    EscalationRisk,
    Role,
    SentimentLabel,
    SpeakerSentiment,
    TranscriptReady,
)
from callpipe.runner import MessageStage, StageRunner
from callpipe.settings import KafkaSettings, RunnerSettings
from callpipe_bench.analyzer_eval import load_calls, transcript_from_turns
from callpipe_tools.local.kafka import given_or_local_broker

__all__ = ["FixedLatencyLLM", "main"]

TARGET_CALLS_PER_S = 28.0


# -- the latency harness ----------------------------------------------------------------------


def _completion_body(request_id: int) -> bytes:
    analysis = CallAnalysis(
        summary="Caller disputed a duplicate charge; the agent refunded it.",
        sentiment=SentimentLabel.NEUTRAL,
        sentiment_score=0.0,
        speaker_sentiment=[
            SpeakerSentiment(role=Role.CALLER, sentiment=SentimentLabel.NEUTRAL, score=0.0),
            SpeakerSentiment(role=Role.AGENT, sentiment=SentimentLabel.POSITIVE, score=0.4),
        ],
        intent="billing_dispute",
        key_topics=["billing"],
        action_items=[],
        satisfaction_score=6,
        escalation_risk=EscalationRisk.LOW,
        competitor_mentions=[],
        custom_answers=[],
    )
    # The chat.completion object as OpenAI's API reference shows it (structured output content).
    body = {
        "id": f"chatcmpl-bench{request_id}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": "bench-fixed-latency",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": analysis.model_dump_json(),
                    "refusal": None,
                    "annotations": [],
                },
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 900, "completion_tokens": 150, "total_tokens": 1050},
    }
    return json.dumps(body).encode()


class FixedLatencyLLM:
    """HTTP/1.1 keep-alive server on 127.0.0.1 that answers ``/v1/chat/completions`` after a fixed delay.

    It runs its own event loop in a thread, so the latency it adds is the configured one and not
    whatever the analyzer's busy loop would add to it.
    """

    def __init__(self, latency_s: float = 1.0) -> None:
        self.latency_s = latency_s
        self.port = 0
        self.requests = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._serve, name="fixed-latency-llm", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> FixedLatencyLLM:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("latency harness did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = int(self._server.sockets[0].getsockname()[1])
        self._ready.set()
        self._loop.run_forever()
        self._server.close()
        pending = asyncio.all_tasks(self._loop)
        for task in pending:
            task.cancel()
        self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self._loop.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                length = 0
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value.strip())
                if length:
                    await reader.readexactly(length)
                self.requests += 1
                await asyncio.sleep(self.latency_s)
                if " /v1/chat/completions " in lines[0] and lines[0].startswith("POST"):
                    status, body = "200 OK", _completion_body(self.requests)
                else:
                    status, body = "404 Not Found", b'{"error":{"message":"not found"}}'
                writer.write(
                    f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\n"
                    f"content-length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except asyncio.CancelledError:
            # Shutdown of the harness with a keep-alive connection still open: not an error.
            return
        finally:
            writer.close()


# -- the broker -------------------------------------------------------------------------------


def _events(n: int, run_id: str) -> list[TranscriptReady]:
    calls = load_calls()
    return [transcript_from_turns(f"bench-{run_id}-{i}", calls[i % len(calls)]["turns"]) for i in range(n)]


def _analyzer_modules() -> tuple[Any, Any, Any]:
    # Loaded lazily: the other benchmarks of this package run without the analyzer extra.
    return (
        importlib.import_module("callpipe_analyzer.stage"),
        importlib.import_module("callpipe_analyzer.wiring"),
        importlib.import_module("callpipe_analyzer.settings"),
    )


def _llm_ports(base_url: str, concurrency: int, http: httpx.AsyncClient) -> Any:
    _, wiring, settings_mod = _analyzer_modules()
    llm = settings_mod.LLMSettings(
        base_url=base_url, api_key="bench-not-a-key", model="bench", max_concurrency=concurrency
    )
    return wiring.build_ports(settings_mod.AnalyzerSettings(engine="llm", llm=llm), http_client=http)


def _count(name: str) -> float:
    return REGISTRY.get_sample_value("callpipe_runner_processed_total", {"stage": name}) or 0.0


async def _produce(
    kafka: KafkaSettings, topic: str, serde: AvroSerde[TranscriptReady], events: list[TranscriptReady]
) -> None:
    producer = EventProducer(kafka)
    try:
        await asyncio.gather(*(producer.send(topic, e.call_id, serde.serialize(e)) for e in events))
    finally:
        producer.close()


async def run_llm_bench(bootstrap: str, calls: int, concurrency: int, latency_s: float) -> dict[str, float]:
    stage_mod, _, _ = _analyzer_modules()
    kafka = KafkaSettings(bootstrap_servers=bootstrap)
    registry = LocalSchemaRegistry.from_directory()
    run_id = uuid.uuid4().hex[:8]
    source, sink, dlq = f"bench.transcripts.{run_id}", f"bench.analyses.{run_id}", f"bench.dlq.{run_id}"
    ensure_topics(kafka, [source, sink, dlq], partitions=1)
    transcripts = AvroSerde(TranscriptReady, registry, f"{source}-value")
    analyses = AvroSerde(CallAnalyzed, registry, f"{sink}-value")
    await _produce(kafka, source, transcripts, _events(calls, run_id))

    first_start: list[float] = []
    with FixedLatencyLLM(latency_s) as llm:
        limits = httpx.Limits(max_connections=concurrency + 4, max_keepalive_connections=concurrency + 4)
        async with httpx.AsyncClient(limits=limits, timeout=30.0) as http:
            ports = _llm_ports(llm.base_url, concurrency, http)

            async def handler(event: TranscriptReady) -> CallAnalyzed:
                if not first_start:
                    first_start.append(time.monotonic())
                result: CallAnalyzed = await stage_mod.analyze(event, ports)
                return result

            name = f"analyzer-bench-{run_id}"
            stage: MessageStage[TranscriptReady, CallAnalyzed] = MessageStage(
                name=name,
                input_topic=source,
                decode=transcripts.deserialize,
                process=handler,
                output_topic=sink,
                encode=analyses.serialize,
                key=lambda out: out.call_id,
            )
            runner = StageRunner(
                stage,
                kafka=kafka,
                runner=RunnerSettings(max_in_flight=concurrency),
                dead_letter_topic=dlq,
                install_signal_handlers=False,
            )
            task = asyncio.create_task(runner.run())
            started = time.monotonic()
            deadline = started + 120.0 + 3 * calls * latency_s / concurrency
            done = 0.0
            # (time, calls finished) samples: the steady rate is measured after the first wave
            # (the first ``concurrency`` calls all wait the full latency before anything finishes).
            samples: list[tuple[float, float]] = []
            while time.monotonic() < deadline and not task.done():
                done = _count(name)
                samples.append((time.monotonic(), done))
                if done >= calls:
                    break
                await asyncio.sleep(0.01)
            finished = time.monotonic()
            runner.stop()
            await task
            llm_requests = llm.requests
    if done < calls:
        raise RuntimeError(f"only {done:.0f} of {calls} calls analyzed before the deadline")
    produced = _read_count(bootstrap, sink, calls, analyses)
    elapsed = finished - (first_start[0] if first_start else started)
    wave = next((t, n) for t, n in samples if n >= min(concurrency, calls - 1))
    steady = (calls - wave[1]) / (finished - wave[0]) if finished > wave[0] else float("nan")
    return {
        "calls": float(calls),
        "elapsed_s": elapsed,
        "calls_per_s": calls / elapsed,
        "steady_per_s": steady,
        "ceiling_per_s": concurrency / latency_s,
        "outputs": float(produced),
        "llm_requests": float(llm_requests),
    }


def _read_count(bootstrap: str, topic: str, expected: int, serde: AvroSerde[CallAnalyzed]) -> int:
    """How many decodable ``CallAnalyzed`` records the output topic holds (each must decode)."""
    from confluent_kafka import Consumer

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-reader-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    seen = 0
    deadline = time.monotonic() + 60
    try:
        while seen < expected and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None or message.error() is not None:
                continue
            out = serde.deserialize(message.value() or b"")
            if out.analysis is None or out.model != "bench":
                raise RuntimeError(f"unexpected output for {out.call_id}: status {out.status}")
            seen += 1
    finally:
        consumer.close()
    return seen


async def run_sequential(bootstrap: str, calls: int, latency_s: float) -> dict[str, float]:
    """The seed's loop: one message at a time, consume → LLM → produce + flush → commit."""
    from confluent_kafka import Consumer, Producer

    stage_mod, _, _ = _analyzer_modules()
    kafka = KafkaSettings(bootstrap_servers=bootstrap)
    registry = LocalSchemaRegistry.from_directory()
    run_id = uuid.uuid4().hex[:8]
    source, sink = f"bench.seq-transcripts.{run_id}", f"bench.seq-analyses.{run_id}"
    ensure_topics(kafka, [source, sink], partitions=1)
    transcripts = AvroSerde(TranscriptReady, registry, f"{source}-value")
    analyses = AvroSerde(CallAnalyzed, registry, f"{sink}-value")
    await _produce(kafka, source, transcripts, _events(calls, run_id))
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-seq-{run_id}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True})
    consumer.subscribe([source])
    done = 0
    started: float | None = None
    try:
        with FixedLatencyLLM(latency_s) as llm:
            async with httpx.AsyncClient(timeout=30.0) as http:
                ports = _llm_ports(llm.base_url, 1, http)
                deadline = time.monotonic() + 60 + 3 * calls * latency_s
                while done < calls and time.monotonic() < deadline:
                    message = consumer.poll(0.5)
                    if message is None or message.error() is not None:
                        continue
                    if started is None:
                        started = time.monotonic()
                    event = transcripts.deserialize(message.value() or b"")
                    result = await stage_mod.analyze(event, ports)
                    producer.produce(sink, key=result.call_id, value=analyses.serialize(result))
                    producer.flush(30)
                    consumer.commit(message=message, asynchronous=False)
                    done += 1
    finally:
        consumer.close()
    if started is None or done < calls:
        raise RuntimeError(f"sequential loop analyzed only {done} of {calls} calls")
    elapsed = time.monotonic() - started
    return {"calls": float(calls), "elapsed_s": elapsed, "calls_per_s": calls / elapsed}


# -- offline ----------------------------------------------------------------------------------


def five_minute_transcript(minutes: float = 5.0) -> TranscriptReady:
    """A call of about ``minutes`` minutes: dataset conversations back to back (synthetic timings)."""
    turns: list[list[str]] = []
    calls = load_calls()
    i = 0
    while True:
        turns.extend(calls[i % len(calls)]["turns"])
        event = transcript_from_turns("bench-offline-5min", turns)
        if event.audio_duration_s >= minutes * 60:
            return event
        i += 1


async def run_offline(calls: int, workers: int = 1) -> dict[str, float]:
    stage_mod, wiring, settings_mod = _analyzer_modules()
    t0 = time.perf_counter()
    ports = wiring.build_ports(settings_mod.AnalyzerSettings(engine="offline"))
    load_s = time.perf_counter() - t0
    event = five_minute_transcript()
    await stage_mod.analyze(event, ports)  # warm-up (first spaCy/BLAS calls)
    started = time.perf_counter()
    remaining = [calls]

    async def worker() -> None:
        # Like the runner's slots: the offline engine runs each call in a worker thread.
        while remaining[0] > 0:
            remaining[0] -= 1
            result = await stage_mod.analyze(event, ports)
            if result.analysis is None:
                raise RuntimeError(f"offline analyzer produced no analysis: {result.status}")

    await asyncio.gather(*(worker() for _ in range(workers)))
    elapsed = time.perf_counter() - started
    # The encoder alone: every sentence of the labelled set (as the offline analyzer splits them).
    sentences = [
        part
        for call in load_calls()
        for _, text in call["turns"]
        for part in re.split(r"(?<=[.!?])\s+", text)
        if part.strip()
    ]
    encoder = ports.analyzer.encoder
    encoder.encode(sentences[:64])
    enc_started = time.perf_counter()
    for _ in range(3):
        encoder.encode(sentences)
    enc_elapsed = time.perf_counter() - enc_started
    return {
        "sentences": float(len(sentences)),
        "sentences_per_s": 3 * len(sentences) / enc_elapsed,
        "calls": float(calls),
        "elapsed_s": elapsed,
        "calls_per_s": calls / elapsed,
        "call_minutes": event.audio_duration_s / 60,
        "utterances": float(len(event.utterances)),
        "words": float(sum(len(u.text.split()) for u in event.utterances)),
        "load_s": load_s,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="callpipe bench analyzer", description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    parser.add_argument("--calls", type=int, default=300, help="TranscriptReady events for the LLM path")
    parser.add_argument("--sequential-calls", type=int, default=10, help="events for the sequential loop")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency-s", type=float, default=1.0)
    parser.add_argument("--offline-calls", type=int, default=20)
    parser.add_argument("--offline-workers", type=int, default=1, help="calls analyzed concurrently")
    parser.add_argument("--skip-llm", action="store_true")
    parser.add_argument("--skip-offline", action="store_true")
    args = parser.parse_args(argv)
    ok = True
    print(f"analyzer bench on {os.cpu_count()} cores (load average {os.getloadavg()[0]:.1f})")
    if not args.skip_llm:
        with given_or_local_broker(os.environ.get("KAFKA_BOOTSTRAP_SERVERS")) as bootstrap:
            res = asyncio.run(run_llm_bench(bootstrap, args.calls, args.concurrency, args.latency_s))
            seq = asyncio.run(run_sequential(bootstrap, args.sequential_calls, args.latency_s))
        met = res["steady_per_s"] >= TARGET_CALLS_PER_S
        ok = ok and met
        print(
            f"LLM path ({args.latency_s:.1f} s fixed-latency OpenAI-compatible server, 1 partition, "
            f"one instance, max_in_flight {args.concurrency}, real broker and stage runner):\n"
            f"  {res['calls']:.0f} calls in {res['elapsed_s']:.2f} s from the first call taken → "
            f"{res['calls_per_s']:.1f} calls/s overall (includes the first {args.concurrency}-call wave "
            f"waiting {args.latency_s:.1f} s)\n"
            f"  sustained after the first wave: {res['steady_per_s']:.1f} calls/s "
            f"(ceiling {res['ceiling_per_s']:.0f}/s, target ≥ {TARGET_CALLS_PER_S:.0f}/s: "
            f"{'MET' if met else 'NOT MET'})\n"
            f"  {res['outputs']:.0f} CallAnalyzed decoded from the output topic, "
            f"{res['llm_requests']:.0f} LLM requests\n"
            f"  seed-style sequential loop: {seq['calls']:.0f} calls in {seq['elapsed_s']:.2f} s → "
            f"{seq['calls_per_s']:.2f} calls/s ({res['calls_per_s'] / seq['calls_per_s']:.0f}× slower)"
        )
    if not args.skip_offline:
        off = asyncio.run(run_offline(args.offline_calls, args.offline_workers))
        print(
            f"offline analyzer (MiniLM + spaCy + VADER + rules), {off['call_minutes']:.1f}-minute call "
            f"({off['utterances']:.0f} utterances, {off['words']:.0f} words), "
            f"{args.offline_workers} at a time "
            f"in one process (OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'all cores')}):\n"
            f"  {off['calls']:.0f} calls in {off['elapsed_s']:.2f} s → {off['calls_per_s']:.2f} calls/s "
            f"({1000 * off['elapsed_s'] / off['calls']:.0f} ms per call; model load {off['load_s']:.1f} s)\n"
            f"  MiniLM encoder (numpy, float32, BLAS threads): {off['sentences_per_s']:.0f} sentences/s "
            f"({off['sentences']:.0f} call-center sentences × 3)"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
