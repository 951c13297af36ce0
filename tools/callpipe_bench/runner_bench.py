"""Runner throughput: a stage whose work is only ``await asyncio.sleep(0.1)``.

With ``max_in_flight`` slots and 0.1 s per call, the ceiling is max_in_flight / 0.1 calls/s; the
target is 90 % of it (0.9 × 32 / 0.1 = 288/s at the defaults), i.e. the runner's own overhead
(consume, bookkeeping, acknowledged produce, commits) costs at most 10 %. One partition, so the
figure is per partition: concurrency comes from the runner, not from partitioning.

    python -m callpipe_bench.runner_bench [--messages 3000] [--concurrency 32] [--work-ms 100]

Uses KAFKA_BOOTSTRAP_SERVERS when set, else starts a LocalKafka for the run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid

from callpipe.kafka import EventProducer, ensure_topics
from callpipe.observability import runner_metrics
from callpipe.runner import MessageStage, StageRunner
from callpipe.settings import KafkaSettings, RunnerSettings
from callpipe_tools.local.kafka import given_or_local_broker

__all__ = ["main", "run_bench"]


async def run_bench(bootstrap: str, messages: int, concurrency: int, work_s: float) -> dict[str, float]:
    kafka = KafkaSettings(bootstrap_servers=bootstrap)
    run_id = uuid.uuid4().hex[:8]
    source, sink, dlq = f"bench.in.{run_id}", f"bench.out.{run_id}", f"bench.dlq.{run_id}"
    ensure_topics(kafka, [source, sink, dlq], partitions=1)

    producer = EventProducer(kafka)
    try:
        await asyncio.gather(*(producer.send(source, f"call-{i}", b"x" * 200) for i in range(messages)))
    finally:
        producer.close()

    first_start: list[float] = []

    async def work(value: bytes) -> bytes:
        if not first_start:
            first_start.append(time.monotonic())
        await asyncio.sleep(work_s)
        return value

    name = f"bench-{run_id}"
    stage: MessageStage[bytes, bytes] = MessageStage(
        name=name,
        input_topic=source,
        decode=lambda b: b,
        process=work,
        output_topic=sink,
        encode=lambda b: b,
        key=lambda b: "k",
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
    deadline = started + max(120.0, 10 * messages * work_s / concurrency)
    done = 0.0
    while time.monotonic() < deadline and not task.done():
        done = _processed(name)
        if done >= messages:
            break
        await asyncio.sleep(0.01)
    finished = time.monotonic()
    runner.stop()
    await task
    if done < messages:
        raise RuntimeError(f"only {done:.0f} of {messages} messages processed before the deadline")
    elapsed = finished - (first_start[0] if first_start else started)
    return {
        "messages": float(messages),
        "elapsed_s": elapsed,
        "calls_per_s": messages / elapsed,
        "target_per_s": 0.9 * concurrency / work_s,
        "ceiling_per_s": concurrency / work_s,
        "startup_s": (first_start[0] - started) if first_start else float("nan"),
    }


def _processed(stage: str) -> float:
    """Messages the runner finished (output acknowledged), read from its own counter family.

    Only this family is collected: the whole default registry includes the process collector,
    which reads several /proc files per call, and at one call per 10 ms that harness overhead
    competed with the runner for the 2 cores.
    """
    for family in runner_metrics().processed.collect():
        for sample in family.samples:
            if sample.name.endswith("_total") and sample.labels.get("stage") == stage:
                return float(sample.value)
    return 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--work-ms", type=float, default=100.0)
    args = parser.parse_args(argv)
    with given_or_local_broker(os.environ.get("KAFKA_BOOTSTRAP_SERVERS")) as bootstrap:
        result = asyncio.run(run_bench(bootstrap, args.messages, args.concurrency, args.work_ms / 1000))
    ok = result["calls_per_s"] >= result["target_per_s"]
    print(
        f"runner bench: {result['messages']:.0f} messages, concurrency {args.concurrency}, "
        f"{args.work_ms:.0f} ms per call, 1 partition\n"
        f"  elapsed {result['elapsed_s']:.2f} s (after {result['startup_s']:.2f} s group join)\n"
        f"  throughput {result['calls_per_s']:.1f} calls/s  "
        f"(ceiling {result['ceiling_per_s']:.0f}/s, target 0.9 × ceiling = {result['target_per_s']:.0f}/s: "
        f"{'MET' if ok else 'NOT MET'})"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
