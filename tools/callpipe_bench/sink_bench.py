"""Sink benchmark: throughput from the real topic, a one-INSERT-per-call baseline, replay
idempotence, and insights latency over a million calls.

    callpipe bench sink [--messages 100000] [--duplicates 5000] [--baseline 2000]
                        [--seed-calls 1000000] [--requests 200] [--chdb DIR]

1. Throughput: ``--messages`` distinct synthetic analyses (4 utterances each) plus
   ``--duplicates`` re-sent copies are produced to a fresh topic (6 partitions); the real sink
   stage (StageRunner + BatchStage + SinkWriter, the sink's batch default 20,000 / 1 s, its
   consumer overrides) consumes them into chdb.
   Reported: analyses/s over the batches (first batch start → last batch end) and end to end
   (runner start, including the consumer-group join).
2. Baseline: the seed's way on the same data and machine — decode each message in Python, one
   INSERT per call (same tables and views) — and the ratio of the two.
3. Replay: a second consumer group reads the whole topic from offset 0 into the same tables;
   ``SELECT count() FROM calls FINAL`` must equal the distinct calls (and the rollups must not
   move).
4. Insights latency: ``--seed-calls`` calls generated inside ClickHouse (INSERT … SELECT FROM
   numbers(), through the same calls table and rollup views, with a topic surge in the last
   24 h), then ``--requests`` timed requests each of /insights?days=7 and /trends through the
   FastAPI app (in-process ASGI client): p50/p95.

Uses KAFKA_BOOTSTRAP_SERVERS when set, else starts a LocalKafka for the run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import secrets
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import clickhouse_connect
from fastapi.testclient import TestClient
from pydantic import SecretStr

from callpipe.avro import AvroSerde, LocalSchemaRegistry
from callpipe.kafka import EventProducer, ensure_topics
from callpipe.models import CallAnalyzed
from callpipe.runner import BatchStage, StageRunner
from callpipe.settings import KafkaSettings
from callpipe_sink.avro_batch import AnalysisPayload, SchemaResolver, decode_analysis
from callpipe_sink.insights import create_app
from callpipe_sink.settings import InsightsSettings, SinkRunnerSettings
from callpipe_sink.warehouse import Warehouse, apply_migrations
from callpipe_sink.writer import INSERT_SETTINGS, SINK_CONSUMER_OVERRIDES, SinkWriter
from callpipe_tools.local.kafka import given_or_local_broker
from callpipe_tools.synthetic.analyses import Surge, synthetic_analyses

__all__ = ["main"]

TARGET_RATE = 20_000
TARGET_P95_MS = 50.0


def _count(wh: Warehouse, sql: str) -> int:
    return int(wh.rows(sql)[0][0])


async def _produce(kafka: KafkaSettings, topic: str, messages: list[tuple[str, bytes]]) -> float:
    producer = EventProducer(kafka)
    started = time.perf_counter()
    try:
        for i in range(0, len(messages), 20_000):
            chunk = messages[i : i + 20_000]
            await asyncio.gather(*(producer.send(topic, key, value) for key, value in chunk))
    finally:
        producer.close()
    return time.perf_counter() - started


async def _consume(
    kafka: KafkaSettings, topic: str, group: str, writer: SinkWriter, expected: int, batch_size: int
) -> dict[str, float]:
    seen = 0
    in_writer = [0.0]
    first: list[float] = []
    last = 0.0
    runner: StageRunner | None = None

    async def process(batch: list[AnalysisPayload]) -> None:
        nonlocal seen, last
        if not first:
            first.append(time.perf_counter())
        began = time.perf_counter()
        await writer.process_batch(batch)
        seen += len(batch)
        last = time.perf_counter()
        in_writer[0] += last - began
        if seen >= expected and runner is not None:
            runner.stop()

    stage: BatchStage[AnalysisPayload] = BatchStage(
        name=group, input_topic=topic, decode=decode_analysis, process_batch=process
    )
    runner = StageRunner(
        stage,
        kafka=kafka,
        runner=SinkRunnerSettings(batch_size=batch_size, batch_max_wait_ms=1000),
        dead_letter_topic=f"{topic}.dlq",
        install_signal_handlers=False,
        consumer_overrides=dict(SINK_CONSUMER_OVERRIDES),
    )
    started = time.perf_counter()
    await asyncio.wait_for(runner.run(), timeout=max(120.0, expected / 500))
    return {
        "messages": float(seen),
        "batch_rate": seen / max(last - first[0], 1e-9),
        "end_to_end_rate": seen / max(last - started, 1e-9),
        "writer_rate": seen / max(in_writer[0], 1e-9),
    }


def _baseline(
    wh: Warehouse, serde: AvroSerde[CallAnalyzed], schemas: SchemaResolver, values: list[bytes]
) -> float:
    """The seed's loop: decode each message in Python, one INSERT per call."""
    from callpipe_sink.avro_batch import container_file

    started = time.perf_counter()
    for value in values:
        serde.deserialize(value)  # the seed decoded every message into its model
        payload = decode_analysis(value)
        wh.insert_avro(
            "analyses_in", container_file(schemas(payload.schema_id), [payload.body]), INSERT_SETTINGS
        )
    return len(values) / (time.perf_counter() - started)


_SEED_SQL = """
INSERT INTO {db:Identifier}.calls
    (call_id, recording_id, source, status, language, has_analysis, summary, sentiment,
     sentiment_score, caller_sentiment_score, agent_sentiment_score, intent, key_topics,
     satisfaction_score, escalation_risk, competitors, competitor_counts, duration_s, talk_time_s,
     silence_s, silence_share, turn_count, caller_talk_share, agent_talk_share, agent_id, queue,
     direction, started_at, started_at_known, received_at, analyzed_at, analyzer, model,
     stt_engine, stt_model)
SELECT
    concat('SEED', toString(number)) AS call_id, call_id, 'twilio', 'ok', 'en', true,
    'seeded call', ['negative', 'neutral', 'positive', 'mixed'][1 + h(1) % 4], 0.0, -0.2, 0.4,
    ['technical_support', 'billing_dispute', 'new_service', 'upgrade_plan', 'cancel_service',
     'other'][1 + h(2) % 6],
    arrayConcat(
        [['billing', 'refund', 'outage', 'router', 'pricing', 'contract', 'installation', 'roaming',
          'upgrade'][1 + h(3) % 9]],
        if(age_s < 86400 AND h(4) % 4 = 0, ['outage'], [])
    ),
    toUInt8(1 + h(5) % 10), ['low', 'low', 'low', 'medium', 'high'][1 + h(6) % 5],
    if(h(7) % 10 = 0, ['Globex'], []), if(h(7) % 10 = 0, [toUInt32(1)], []),
    300, 250, 50, 50 / 300, 20, 0.45, 0.38,
    concat('agent-', toString(h(8) % 200)),
    ['billing', 'support', 'sales', 'retention', 'general'][1 + h(9) % 5],
    'inbound', started, true, started, started + 600, 'offline', 'minilm-l6-v2+rules',
    'faster-whisper', 'tiny.en'
FROM
(
    SELECT number, cityHash64(number, {salt:UInt64}) % (30 * 86400) AS age_s,
           toDateTime64({end:DateTime64(3, 'UTC')}, 3, 'UTC') - toIntervalSecond(age_s) AS started
    FROM numbers({count:UInt64})
)
"""
# h(k): an independent deterministic pseudo-random UInt64 per field (ClickHouse has no lambdas
# over scalars in SELECT lists, so the macro is expanded here, in constant SQL).
_SEED_SQL = re.sub(r"h\((\d)\)", r"cityHash64(number, \1)", _SEED_SQL)


def _latency(
    client: TestClient, path: str, params: dict[str, Any], requests: int, token: str
) -> dict[str, float]:
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(5):  # warm-up: first queries load marks and compile
        client.get(path, params=params, headers=headers).raise_for_status()
    timings = []
    for _ in range(requests):
        started = time.perf_counter()
        client.get(path, params=params, headers=headers).raise_for_status()
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return {"p50": statistics.median(timings), "p95": timings[int(0.95 * (len(timings) - 1))]}


def _load() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def _topic_part(
    args: argparse.Namespace, client: Any, registry: LocalSchemaRegistry, run_id: str
) -> list[str]:
    topic = f"bench.analyses.{run_id}"
    serde = AvroSerde(CallAnalyzed, registry, f"{topic}-value")
    schemas = SchemaResolver(registry)
    end = datetime.now(UTC)
    print(f"generating {args.messages} analyses + {args.duplicates} duplicates…", file=sys.stderr)
    events = list(synthetic_analyses(args.messages, end=end, days=30, seed=1, surge=Surge()))
    values = [(e["call_id"], serde.serialize_dict(e)) for e in events]
    # The sink never holds 100k decoded events: kept alive, they made each full garbage
    # collection during the run take ~0.55 s (measured), stalling the runner's loop.
    del events
    rng = random.Random(2)
    values += [values[rng.randrange(len(values))] for _ in range(args.duplicates)]
    rng.shuffle(values)  # duplicates interleaved, as redeliveries would be
    avg_bytes = sum(len(v) for _, v in values) / len(values)
    distinct = len({k for k, _ in values})

    def counts(wh: Warehouse) -> dict[str, int]:
        return {
            "calls_final": _count(wh, "SELECT count() FROM {db:Identifier}.calls FINAL"),
            "rollup": _count(wh, "SELECT countMerge(calls) FROM {db:Identifier}.calls_hourly"),
            "utterances": _count(wh, "SELECT count() FROM {db:Identifier}.utterances FINAL"),
        }

    with given_or_local_broker(os.environ.get("KAFKA_BOOTSTRAP_SERVERS")) as bootstrap:
        kafka = KafkaSettings(bootstrap_servers=bootstrap)
        ensure_topics(kafka, [topic, f"{topic}.dlq"], partitions=6)
        produce_s = asyncio.run(_produce(kafka, topic, values))
        print(f"produced {len(values)} messages in {produce_s:.1f}s", file=sys.stderr)
        live = Warehouse(client, f"bench_{run_id}", embedded=True)
        apply_migrations(live)
        group = f"sink-bench-{run_id}"
        first = asyncio.run(
            _consume(kafka, topic, group, SinkWriter(live, schemas), len(values), args.batch_size)
        )
        before = counts(live)
        group = f"sink-bench-replay-{run_id}"
        replay = asyncio.run(
            _consume(kafka, topic, group, SinkWriter(live, schemas), len(values), args.batch_size)
        )
        after = counts(live)

    baseline_db = Warehouse(client, f"bench_seed_{run_id}", embedded=True)
    apply_migrations(baseline_db)
    sample = [v for _, v in values[: args.baseline]]
    baseline_rate = _baseline(baseline_db, serde, schemas, sample)

    print()
    print(f"sink throughput into chdb from a real topic; {os.cpu_count()} CPUs, load average {_load()}")
    print(
        f"  messages               {len(values)} ({distinct} distinct, {avg_bytes:.0f} B avg, 6 partitions)"
    )
    print(f"  batch size             {args.batch_size}")
    print(f"  batch path             {first['batch_rate']:>10.0f} analyses/s  (target ≥ {TARGET_RATE})")
    print(f"  inside process_batch   {first['writer_rate']:>10.0f} analyses/s  (writer alone)")
    print(f"  end to end (w/ join)   {first['end_to_end_rate']:>10.0f} analyses/s")
    print(f"  one INSERT per call    {baseline_rate:>10.0f} analyses/s  ({len(sample)} calls)")
    print(f"  ratio batch / per-call {first['batch_rate'] / baseline_rate:>10.1f}×")
    print("replay from offset 0 (second consumer group)")
    print(f"  replay rate            {replay['batch_rate']:>10.0f} analyses/s")
    print(f"  calls FINAL            {before['calls_final']} → {after['calls_final']} (distinct {distinct})")
    print(f"  rollup calls           {before['rollup']} → {after['rollup']}")
    print(f"  utterances FINAL       {before['utterances']} → {after['utterances']}")
    failures = []
    if after["calls_final"] != distinct or before["calls_final"] != distinct:
        failures.append("calls FINAL != distinct calls")
    if after["rollup"] != before["rollup"] or before["rollup"] != distinct:
        failures.append("rollups moved on replay or count duplicates")
    if first["batch_rate"] < TARGET_RATE:
        failures.append(f"throughput below {TARGET_RATE}/s")
    return failures


def _latency_part(args: argparse.Namespace, client: Any, run_id: str) -> list[str]:
    print(f"seeding {args.seed_calls} calls inside ClickHouse…", file=sys.stderr)
    end = datetime.now(UTC)
    seeded = Warehouse(client, f"bench_q_{run_id}", embedded=True)
    apply_migrations(seeded)
    seed_started = time.perf_counter()
    seeded.command(_SEED_SQL, {"count": args.seed_calls, "end": end, "salt": 7})
    # Steady state: a running sink's rollups are merged in the background long before anyone
    # looks; a freshly seeded table still has every insert's parts (and merges would compete
    # with the timed requests).
    for rollup in ("calls_hourly", "agents_hourly", "topics_hourly", "competitors_hourly"):
        seeded.command(f"OPTIMIZE TABLE {{db:Identifier}}.{rollup} FINAL")
    seed_s = time.perf_counter() - seed_started
    token = secrets.token_urlsafe(24)
    app = create_app(seeded, InsightsSettings(token=SecretStr(token)), clock=lambda: end)
    with TestClient(app) as api:
        insights = _latency(api, "/insights", {"days": 7}, args.requests, token)
        trends = _latency(api, "/trends", {"recent_hours": 24, "baseline_days": 28}, args.requests, token)
        rising = api.get("/trends", headers={"Authorization": f"Bearer {token}"}).json()["rising"]
    print()
    print(
        f"insights latency: {args.seed_calls} calls seeded in {seed_s:.1f}s, {args.requests} requests each,"
    )
    print(f"  in-process ASGI client; load average {_load()}")
    for name, figures in (("/insights?days=7", insights), ("/trends", trends)):
        p50, p95 = figures["p50"], figures["p95"]
        print(f"  {name:<22} p50 {p50:6.1f} ms   p95 {p95:6.1f} ms  (target ≤ {TARGET_P95_MS})")
    print(f"  rising labels found    {[(r['kind'], r['label'], r['z']) for r in rising]}")
    if insights["p95"] > TARGET_P95_MS or trends["p95"] > TARGET_P95_MS:
        return [f"p95 above {TARGET_P95_MS} ms"]
    return []


def run(args: argparse.Namespace) -> int:
    chdb_dir = Path(args.chdb) if args.chdb else Path(tempfile.mkdtemp(prefix="callpipe-sink-bench-"))
    # chdb: one data directory per process, so every part shares this client (own databases).
    client = clickhouse_connect.get_client(interface="chdb", path=str(chdb_dir))
    run_id = uuid.uuid4().hex[:8]
    failures: list[str] = []
    try:
        if args.only in ("all", "topic"):
            failures += _topic_part(args, client, LocalSchemaRegistry.from_directory(), run_id)
        if args.only in ("all", "latency"):
            failures += _latency_part(args, client, run_id)
        print("result:", "all targets met" if not failures else "; ".join(failures))
        return 0 if not failures else 1
    finally:
        client.close()
        if not args.chdb:
            shutil.rmtree(chdb_dir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="callpipe bench sink", description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000, help="distinct analyses produced")
    parser.add_argument("--duplicates", type=int, default=5_000, help="extra re-sent copies")
    parser.add_argument("--baseline", type=int, default=2_000, help="calls in the one-INSERT-per-call loop")
    parser.add_argument("--seed-calls", type=int, default=1_000_000, help="calls seeded for the latency part")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per endpoint")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=SinkRunnerSettings.model_fields["batch_size"].default,  # the sink's default
        help="sink batch size (RUNNER_BATCH_SIZE)",
    )
    parser.add_argument("--only", choices=("all", "topic", "latency"), default="all", help="parts to run")
    parser.add_argument("--chdb", help="chdb directory to use (default: a temporary one, removed)")
    return run(parser.parse_args(argv))
