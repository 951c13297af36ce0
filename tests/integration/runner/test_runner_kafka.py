"""The stage runner against the real broker: happy path, poison, retries, DLQ, rebalance, batch."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from callpipe.errors import BackpressureError, DependencyUnavailableError, PoisonMessageError, TransientError
from callpipe.kafka import ensure_topics
from callpipe.runner import BatchStage, MessageStage, StageRunner
from callpipe.settings import KafkaSettings, RunnerSettings

FAST = RunnerSettings(
    max_in_flight=8,
    max_attempts=3,
    backoff_initial_s=0.05,
    backoff_max_s=0.2,
    commit_interval_s=0.2,
    drain_timeout_s=10,
    batch_size=10,
    batch_max_wait_ms=200,
)


def decode(raw: bytes) -> str:
    if raw.startswith(b"poison"):
        raise PoisonMessageError(f"not a recording: {raw[:20]!r}")
    return raw.decode()


def make_stage(name, source, sink, process):
    return MessageStage(
        name=name,
        input_topic=source,
        decode=decode,
        process=process,
        output_topic=sink,
        encode=lambda s: s.encode(),
        key=lambda s: s.split(":")[0],
    )


def fast_runner(kafka_bootstrap, stage, dlq):
    """A runner with the FAST settings on the test broker, no signal handlers (pytest owns them)."""
    return StageRunner(
        stage,
        kafka=KafkaSettings(bootstrap_servers=kafka_bootstrap),
        runner=FAST,
        dead_letter_topic=dlq,
        install_signal_handlers=False,
    )


async def run_until(runner, condition, until, limit_s=60.0):
    task = asyncio.create_task(runner.run())
    try:
        assert await until(lambda: condition() or task.done(), limit_s)
        assert not task.done(), f"runner exited early: {task.exception() if task.done() else ''}"
    finally:
        runner.stop()
        await asyncio.wait_for(task, 30)


@pytest.fixture
def names(kafka_bootstrap, new_topic):
    def make(partitions=1):
        stage = f"t{uuid.uuid4().hex[:8]}"
        return stage, new_topic(partitions), new_topic(1), f"callpipe.dlq.{stage}"

    return make


async def test_happy_path_every_message_produces_and_offsets_are_committed(
    kafka_bootstrap, kio, until, names
):
    stage_name, source, sink, dlq = names(partitions=3)
    kio.produce(source, [(f"call-{i}", f"call-{i}:audio".encode()) for i in range(60)])
    done: list[str] = []

    async def process(event: str) -> str:
        await asyncio.sleep(0.01)
        done.append(event)
        return event + ":transcript"

    runner = fast_runner(kafka_bootstrap, make_stage(stage_name, source, sink, process), dlq)
    await run_until(runner, lambda: len(done) >= 60, until)
    out = kio.read_all(sink, 60)
    assert sorted(m.key().decode() for m in out) == sorted(f"call-{i}" for i in range(60))
    assert all(m.value().endswith(b":transcript") for m in out)
    offsets = kio.committed(f"callpipe-{stage_name}", source, 3)
    assert sum(offsets.values()) == 60


async def test_poison_message_goes_to_the_dlq_with_reason_and_original_bytes(
    kafka_bootstrap, kio, until, names
):
    stage_name, source, sink, dlq = names()
    ensure_topics(KafkaSettings(bootstrap_servers=kafka_bootstrap), [dlq], partitions=1)
    records = [("call-0", b"call-0:ok"), ("call-bad", b"poison\xff\x00bytes"), ("call-2", b"call-2:ok")]
    kio.produce(source, records)
    done: list[str] = []

    async def process(event: str) -> str:
        done.append(event)
        return event

    runner = fast_runner(kafka_bootstrap, make_stage(stage_name, source, sink, process), dlq)
    await run_until(runner, lambda: len(done) >= 2, until)
    dead = kio.read_all(dlq, 1)
    assert len(dead) == 1
    headers = dict(dead[0].headers())
    assert dead[0].key() == b"call-bad"
    assert dead[0].value() == b"poison\xff\x00bytes"
    assert headers["x-callpipe-error-class"] == b"PoisonMessageError"
    assert b"not a recording" in headers["x-callpipe-error-message"]
    assert headers["x-callpipe-source-topic"] == source.encode()
    assert headers["x-callpipe-source-offset"] == b"1"
    assert headers["x-callpipe-attempts"] == b"1"
    assert headers["x-callpipe-stage"] == stage_name.encode()
    assert sorted(m.key() for m in kio.read_all(sink, 2)) == [b"call-0", b"call-2"]
    assert kio.committed(f"callpipe-{stage_name}", source, 1) == {0: 3}


async def test_transient_failures_are_retried_then_succeed(kafka_bootstrap, kio, until, names):
    stage_name, source, sink, dlq = names()
    kio.produce(source, [(f"call-{i}", f"call-{i}:x".encode()) for i in range(5)])
    calls: dict[str, int] = {}

    async def process(event: str) -> str:
        calls[event] = calls.get(event, 0) + 1
        if event.startswith("call-3") and calls[event] < 3:  # fails twice, succeeds on the 3rd (= max)
            raise TransientError("deepgram 503")
        return event

    runner = fast_runner(kafka_bootstrap, make_stage(stage_name, source, sink, process), dlq)
    await run_until(runner, lambda: calls.get("call-3:x", 0) >= 3 and len(calls) == 5, until)
    await asyncio.sleep(0)
    out = kio.read_all(sink, 5)
    assert sorted(m.key() for m in out) == [f"call-{i}".encode() for i in range(5)]
    assert calls["call-3:x"] == 3
    assert kio.committed(f"callpipe-{stage_name}", source, 1) == {0: 5}


async def test_exhausted_attempts_dead_letter_with_the_last_reason(kafka_bootstrap, kio, until, names):
    stage_name, source, sink, dlq = names()
    ensure_topics(KafkaSettings(bootstrap_servers=kafka_bootstrap), [dlq], partitions=1)
    kio.produce(source, [("call-a", b"call-a:x"), ("call-b", b"call-b:x")])
    calls: dict[str, int] = {}

    async def process(event: str) -> str:
        calls[event] = calls.get(event, 0) + 1
        if event.startswith("call-a"):
            raise RuntimeError(f"bug on try {calls[event]}")  # not a callpipe error: transient
        return event

    runner = fast_runner(kafka_bootstrap, make_stage(stage_name, source, sink, process), dlq)
    # stop() drains in-flight work, so the dead letter of the 3rd failure is acknowledged first.
    await run_until(runner, lambda: calls.get("call-a:x", 0) >= 3 and "call-b:x" in calls, until)
    dead = kio.read_all(dlq, 1)
    assert len(dead) == 1
    headers = dict(dead[0].headers())
    assert headers["x-callpipe-error-class"] == b"RuntimeError"
    assert headers["x-callpipe-error-message"] == b"bug on try 3"
    assert headers["x-callpipe-attempts"] == b"3"
    assert calls["call-a:x"] == 3
    assert [m.key() for m in kio.read_all(sink, 1)] == [b"call-b"]


async def test_two_consumers_rebalance_mid_stream_lose_nothing(kafka_bootstrap, kio, until, names):
    stage_name, source, sink, dlq = names(partitions=4)
    total = 200
    kio.produce(source, [(f"call-{i}", f"call-{i}:x".encode()) for i in range(total)])
    done: list[str] = []

    async def process(event: str) -> str:
        await asyncio.sleep(0.02)
        done.append(event)
        return event

    first = fast_runner(kafka_bootstrap, make_stage(stage_name, source, sink, process), dlq)
    second = fast_runner(kafka_bootstrap, make_stage(stage_name, source, sink, process), dlq)
    t1 = asyncio.create_task(first.run())
    assert await until(lambda: len(done) >= 30, 60)
    t2 = asyncio.create_task(second.run())  # joins: rebalance while the first has work in flight
    assert await until(lambda: len(done) >= 100, 60)
    first.stop()  # leaves: a second rebalance hands everything to the second consumer
    await asyncio.wait_for(t1, 30)
    assert await until(lambda: len(set(done)) >= total, 90)
    second.stop()
    await asyncio.wait_for(t2, 30)
    out = kio.read_all(sink, total)
    assert {m.key().decode() for m in out} == {f"call-{i}" for i in range(total)}
    assert sum(kio.committed(f"callpipe-{stage_name}", source, 4).values()) == total


async def test_batch_mode_processes_batches_dead_letters_poison_and_retries_whole_batch(
    kafka_bootstrap, kio, until, names
):
    stage_name, source, _sink, dlq = names()
    ensure_topics(KafkaSettings(bootstrap_servers=kafka_bootstrap), [dlq], partitions=1)
    records = [(f"call-{i}", f"call-{i}".encode()) for i in range(35)]
    records.insert(17, ("call-poison", b"poison!"))
    kio.produce(source, records)
    batches: list[list[str]] = []
    failures = {"left": 1}

    async def process_batch(events: list[str]) -> None:
        if failures["left"]:
            failures["left"] -= 1
            raise TransientError("clickhouse busy")
        batches.append(events)

    stage = BatchStage(name=stage_name, input_topic=source, decode=decode, process_batch=process_batch)
    runner = fast_runner(kafka_bootstrap, stage, dlq)
    await run_until(runner, lambda: sum(len(b) for b in batches) >= 35, until)
    stored = [e for b in batches for e in b]
    assert sorted(stored) == sorted(f"call-{i}" for i in range(35))
    assert all(len(b) <= 10 for b in batches)
    dead = kio.read_all(dlq, 1)
    assert [m.key() for m in dead] == [b"call-poison"]
    assert kio.committed(f"callpipe-{stage_name}", source, 1) == {0: 36}


async def test_dependency_unavailable_is_retried_beyond_max_attempts_and_backpressure_pauses(
    kafka_bootstrap, kio, until, names
):
    stage_name, source, sink, dlq = names()
    kio.produce(source, [("call-db", b"call-db:x"), ("call-full", b"call-full:x"), ("call-ok", b"call-ok:x")])
    calls: dict[str, int] = {}

    async def process(event: str) -> str:
        calls[event] = calls.get(event, 0) + 1
        if event.startswith("call-db") and calls[event] <= 5:  # more failures than max_attempts (3)
            raise DependencyUnavailableError("clickhouse down")
        if event.startswith("call-full") and calls[event] <= 4:  # backpressure never counts attempts
            raise BackpressureError("buffer full", retry_after=0.05)
        return event

    runner = fast_runner(kafka_bootstrap, make_stage(stage_name, source, sink, process), dlq)
    await run_until(
        runner, lambda: calls.get("call-db:x", 0) >= 6 and calls.get("call-full:x", 0) >= 5, until
    )
    out = kio.read_all(sink, 3)
    assert sorted(m.key() for m in out) == [b"call-db", b"call-full", b"call-ok"]
    assert kio.committed(f"callpipe-{stage_name}", source, 1) == {0: 3}


def test_ensure_topics_is_idempotent(kafka_bootstrap):
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    name = f"ensure.{uuid.uuid4().hex[:8]}"
    assert ensure_topics(kafka, [name, name], partitions=3) == [name]
    assert ensure_topics(kafka, [name], partitions=3) == []
