"""The sink stage end to end on a real broker: batches into chdb, poison and contract violations
dead-lettered with their original bytes, ClickHouse outages retried without loss, and a replay
of the whole topic from offset 0 that changes nothing."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from callpipe.avro import AvroSerde
from callpipe.errors import DependencyUnavailableError
from callpipe.runner import BatchStage, StageRunner
from callpipe.settings import KafkaSettings, RunnerSettings
from callpipe_sink.avro_batch import AnalysisPayload, SchemaResolver, decode_analysis
from callpipe_sink.warehouse import Warehouse
from callpipe_sink.writer import SINK_CONSUMER_OVERRIDES, SinkWriter
from callpipe_tools.synthetic.analyses import synthetic_analyses
from tests.integration.sink.sink_it_support import SEED_END, produce, read_all


class FlakyWarehouse(Warehouse):
    """ClickHouse 'down' for the first ``failures`` inserts (as the adapter reports it)."""

    def __init__(self, inner: Warehouse, failures: int) -> None:
        super().__init__(inner.client, inner.database, embedded=True)
        self.failures = failures
        self.attempts = 0

    def insert_avro(self, table: str, container: bytes, settings: Mapping[str, Any] | None = None) -> None:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise DependencyUnavailableError("ClickHouse unreachable during insert (injected)")
        super().insert_avro(table, container, settings)


def _count(wh: Warehouse, sql: str) -> int:
    return int(wh.rows(sql)[0][0])


async def _run_until(runner: StageRunner, done: Callable[[], Awaitable[bool]], limit_s: float = 90.0) -> None:
    task = asyncio.create_task(runner.run())
    try:
        deadline = asyncio.get_running_loop().time() + limit_s
        while not await done():
            assert not task.done(), task.exception()
            assert asyncio.get_running_loop().time() < deadline, "sink did not finish in time"
            await asyncio.sleep(0.2)
    finally:
        runner.stop()
        await asyncio.wait_for(task, 60)


def _runner(kafka: KafkaSettings, topic: str, dlq: str, group: str, writer: SinkWriter) -> StageRunner:
    stage: BatchStage[AnalysisPayload] = BatchStage(
        name=group, input_topic=topic, decode=decode_analysis, process_batch=writer.process_batch
    )
    settings = RunnerSettings(
        batch_size=100, batch_max_wait_ms=200, backoff_initial_s=0.05, backoff_max_s=0.2
    )
    return StageRunner(
        stage,
        kafka=kafka,
        runner=settings,
        dead_letter_topic=dlq,
        install_signal_handlers=False,
        consumer_overrides=dict(SINK_CONSUMER_OVERRIDES),
    )


async def test_topic_to_chdb_with_dlq_outage_and_replay(
    kafka_bootstrap: str, new_topic: Any, warehouse: Warehouse, registry: Any, serde: AvroSerde[Any]
) -> None:
    topic, dlq = new_topic(3), new_topic(1)
    events = list(synthetic_analyses(300, end=SEED_END, days=5, seed=31))
    records = [(e["call_id"], serde.serialize_dict(e)) for e in events]
    rng = random.Random(4)
    records += [records[rng.randrange(300)] for _ in range(20)]  # redeliveries upstream
    poison = b"\x07not avro at all"
    bad = next(synthetic_analyses(1, end=SEED_END, seed=32, id_prefix="BAD"))
    bad["analysis"]["satisfaction_score"] = 42
    bad_bytes = serde.serialize_dict(bad)
    records += [("poison", poison), (bad["call_id"], bad_bytes)]
    rng.shuffle(records)
    produce(kafka_bootstrap, topic, records)

    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    flaky = FlakyWarehouse(warehouse, failures=3)
    writer = SinkWriter(flaky, SchemaResolver(registry))
    calls_final = "SELECT count() FROM {db:Identifier}.calls FINAL"
    dead: list[Any] = []

    async def finished() -> bool:
        if _count(warehouse, calls_final) < 300:
            return False
        dead[:] = read_all(kafka_bootstrap, dlq, 2, timeout=5)
        return len(dead) >= 2

    await _run_until(_runner(kafka, topic, dlq, f"sink-it-{uuid.uuid4().hex[:8]}", writer), finished)

    assert flaky.attempts > 3, "the outage was retried"
    assert _count(warehouse, calls_final) == 300
    assert _count(warehouse, "SELECT count() FROM {db:Identifier}.calls") == 300  # no duplicate rows
    assert _count(warehouse, "SELECT countMerge(calls) FROM {db:Identifier}.calls_hourly") == 300
    by_class = {dict(m.headers())["x-callpipe-error-class"]: m for m in dead}
    assert set(by_class) == {b"PoisonMessageError", b"InvalidInputError"}
    assert by_class[b"PoisonMessageError"].value() == poison
    assert by_class[b"InvalidInputError"].value() == bad_bytes
    assert b"satisfaction_score" in dict(by_class[b"InvalidInputError"].headers())["x-callpipe-error-message"]

    # Every stored call's turns and nothing of the dead-lettered one (migration 0011).
    assert _count(warehouse, "SELECT count() FROM {db:Identifier}.utterances") == sum(
        len(e["utterances"]) for e in events
    )

    # Replay everything from offset 0 under a new consumer group: nothing may change.
    before = {
        "utterances": _count(warehouse, "SELECT count() FROM {db:Identifier}.utterances"),
        "topics": _count(warehouse, "SELECT countMerge(calls) FROM {db:Identifier}.topics_hourly"),
    }
    replay_writer = SinkWriter(warehouse, SchemaResolver(registry))
    seen = 0
    original = replay_writer.process_batch

    async def counting(batch: list[AnalysisPayload]) -> None:
        nonlocal seen
        await original(batch)
        seen += len(batch)

    replay_writer.process_batch = counting  # type: ignore[method-assign,assignment]

    async def replayed() -> bool:
        return seen >= len(records) - 2  # the two dead-lettered ones are dead-lettered again

    await _run_until(
        _runner(kafka, topic, dlq, f"sink-replay-{uuid.uuid4().hex[:8]}", replay_writer), replayed
    )
    assert _count(warehouse, calls_final) == 300
    assert _count(warehouse, "SELECT count() FROM {db:Identifier}.calls") == 300
    assert _count(warehouse, "SELECT countMerge(calls) FROM {db:Identifier}.calls_hourly") == 300
    assert before == {
        "utterances": _count(warehouse, "SELECT count() FROM {db:Identifier}.utterances"),
        "topics": _count(warehouse, "SELECT countMerge(calls) FROM {db:Identifier}.topics_hourly"),
    }
