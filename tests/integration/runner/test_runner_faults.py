"""Faults against the real broker: a dead consumer thread, work outliving a revoke, a broker outage."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
import urllib.error
import urllib.request
import uuid

import pytest
from confluent_kafka import Consumer

from callpipe.runner import MessageStage, StageRunner
from callpipe.settings import KafkaSettings, RunnerSettings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def healthz(port: int) -> tuple[int, dict[str, str]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as failed:
        with failed:
            return failed.code, json.loads(failed.read())


def echo_stage(name: str, source: str, sink: str, process) -> MessageStage[str, str]:
    return MessageStage(
        name=name,
        input_topic=source,
        decode=lambda raw: raw.decode(),
        process=process,
        output_topic=sink,
        encode=lambda s: s.encode(),
        key=lambda s: s,
    )


async def test_healthz_answers_503_once_the_consumer_thread_died(kafka_bootstrap, kio, new_topic, until):
    source, sink = new_topic(1), new_topic(1)
    stage_name = f"dead{uuid.uuid4().hex[:6]}"
    kio.produce(source, [("call-0", b"call-0")])
    release = asyncio.Event()
    started: list[str] = []

    async def process(event: str) -> str:
        started.append(event)
        await release.wait()  # keeps the shutdown drain (and so the health server) going
        return event

    port = free_port()
    instance = f"static-{stage_name}"
    runner = StageRunner(
        echo_stage(stage_name, source, sink, process),
        kafka=KafkaSettings(bootstrap_servers=kafka_bootstrap),
        dead_letter_topic=f"callpipe.dlq.{stage_name}",
        runner=RunnerSettings(metrics_port=port, drain_timeout_s=60, commit_interval_s=0.2),
        # Static membership: a second member with the same instance id fences this consumer, a
        # fatal librdkafka error that ends the consumer thread.
        consumer_overrides={"group.instance.id": instance, "session.timeout.ms": 10_000},
        install_signal_handlers=False,
    )
    task = asyncio.create_task(runner.run())
    intruder: Consumer | None = None
    try:
        assert await until(lambda: bool(started) or task.done(), 60), "the runner took no message"
        assert healthz(port)[0] == 200
        intruder = Consumer(
            {
                "bootstrap.servers": kafka_bootstrap,
                "group.id": f"callpipe-{stage_name}",
                "group.instance.id": instance,
                "session.timeout.ms": 10_000,
            }
        )
        intruder.subscribe([source])
        deadline = time.monotonic() + 60
        status, body = healthz(port)
        while status == 200 and time.monotonic() < deadline:
            await asyncio.to_thread(intruder.poll, 0.2)
            status, body = healthz(port)
        assert status == 503, body
        assert body["status"] == "unhealthy"
        assert "consumer thread failed" in body["detail"]
        assert not task.done()  # still draining: the orchestrator sees 503, not a vanished port
    finally:
        release.set()
        if intruder is not None:
            await asyncio.to_thread(intruder.close)
        runner.stop()
        with pytest.raises(Exception, match=r"(?i)fenced"):
            await asyncio.wait_for(task, 60)  # run() ends with the consumer's fatal error


async def test_work_outliving_the_drain_on_revoke_is_redelivered_to_the_new_owner(
    kafka_bootstrap, kio, new_topic, until
):
    source, sink = new_topic(2), new_topic(1)
    stage_name = f"rev{uuid.uuid4().hex[:6]}"
    keys = [f"call-{p}-{i}" for p in range(2) for i in range(6)]
    for p in range(2):
        kio.produce(source, [(k, k.encode()) for k in keys if k.startswith(f"call-{p}-")], partition=p)
    first_try: set[str] = set()
    cancelled: set[str] = set()
    done_by: dict[str, list[str]] = {"first": [], "second": []}

    def process_for(owner: str):
        async def process(event: str) -> str:
            if event not in first_try:
                # Its first delivery runs far past drain_timeout_s: the revoke must give it up.
                first_try.add(event)
                try:
                    await asyncio.sleep(120)
                except asyncio.CancelledError:
                    cancelled.add(event)
                    raise
            done_by[owner].append(event)
            return event

        return process

    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    settings = RunnerSettings(max_in_flight=32, drain_timeout_s=1.0, commit_interval_s=0.2)
    first = StageRunner(
        echo_stage(stage_name, source, sink, process_for("first")),
        kafka=kafka,
        dead_letter_topic=f"callpipe.dlq.{stage_name}",
        runner=settings,
        install_signal_handlers=False,
    )
    second = StageRunner(
        echo_stage(stage_name, source, sink, process_for("second")),
        kafka=kafka,
        dead_letter_topic=f"callpipe.dlq.{stage_name}",
        runner=settings,
        install_signal_handlers=False,
    )
    t1 = asyncio.create_task(first.run())
    t2: asyncio.Task[None] | None = None
    try:
        # Every message of both partitions is in flight on the first runner, none finished.
        assert await until(lambda: len(first_try) == len(keys) or t1.done(), 60), sorted(first_try)
        t2 = asyncio.create_task(second.run())  # joins: the first's partitions are revoked
        assert await until(lambda: len(set(done_by["first"] + done_by["second"])) == len(keys), 90), (
            done_by,
            cancelled,
        )
    finally:
        first.stop()
        second.stop()
        await asyncio.wait_for(asyncio.gather(t1, *([t2] if t2 else [])), 60)
    # Revoking gave up the work that outlived the drain, and committed nothing for it ...
    assert cancelled == set(keys)
    # ... its partition moved, and the new owner got those messages again and processed them.
    assert done_by["second"], done_by
    assert set(done_by["second"]) <= cancelled
    out = kio.read_all(sink, len(keys))
    assert {m.key().decode() for m in out} == set(keys)  # nothing lost
    assert sorted(m.key().decode() for m in out) == sorted(keys)  # each exactly once here
    assert kio.committed(f"callpipe-{stage_name}", source, 2) == {0: 6, 1: 6}


async def test_broker_stopped_while_outputs_are_delivered_then_every_input_has_its_output(
    kafka_broker, kafka_bootstrap, kio, new_topic, until, caplog
):
    caplog.set_level(logging.WARNING, logger="callpipe.runner")
    source, sink = new_topic(2), new_topic(1)
    stage_name = f"down{uuid.uuid4().hex[:6]}"
    total = 300
    keys = [f"call-{i:04d}" for i in range(total)]
    kio.produce(source, [(k, k.encode()) for k in keys])
    processed: list[str] = []

    async def process(event: str) -> str:
        await asyncio.sleep(0.05)
        processed.append(event)
        return event

    runner = StageRunner(
        echo_stage(stage_name, source, sink, process),
        kafka=KafkaSettings(bootstrap_servers=kafka_bootstrap),
        dead_letter_topic=f"callpipe.dlq.{stage_name}",
        runner=RunnerSettings(
            max_in_flight=16,
            commit_interval_s=0.2,
            drain_timeout_s=30,
            backoff_initial_s=0.2,
            backoff_max_s=1,
        ),
        # Deliveries time out while the broker is down, so the runner's own re-send path runs
        # too (not only librdkafka's internal retries).
        producer_overrides={"delivery.timeout.ms": 4000},
        install_signal_handlers=False,
    )
    task = asyncio.create_task(runner.run())
    try:
        assert await until(lambda: len(processed) >= 60 or task.done(), 90)
        await asyncio.to_thread(kafka_broker.stop)  # outputs are in flight to the broker now
        stopped_at = len(processed)
        await asyncio.sleep(8)  # past the delivery timeout: sends fail and are retried
        assert not task.done()
        await asyncio.to_thread(kafka_broker.restart)
        assert await until(lambda: len(set(processed)) >= total or task.done(), 180), len(set(processed))
        assert not task.done(), task.exception()
        # Wait until the commits cover every input, i.e. every output was acknowledged.
        group = f"callpipe-{stage_name}"
        assert await until(lambda: sum(kio.committed(group, source, 2).values()) >= total, 60, 0.5)
    finally:
        runner.stop()
        await asyncio.wait_for(task, 60)
    assert stopped_at < total  # the outage really hit mid-stream
    retried = [r for r in caplog.records if r.getMessage() == "output not acknowledged; retrying"]
    assert retried, "no delivery failed during the outage"
    out = kio.read_all(sink, total, timeout=90)
    produced = [m.key().decode() for m in out]
    assert set(produced) == set(keys), f"missing: {sorted(set(keys) - set(produced))[:10]}"
    assert sum(kio.committed(f"callpipe-{stage_name}", source, 2).values()) == total
