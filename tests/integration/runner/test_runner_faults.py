"""Faults against the real broker: a dead consumer thread, work outliving a revoke, a broker outage."""

from __future__ import annotations

import asyncio
import json
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
        with pytest.raises(Exception, match="(?i)fenced"):
            await asyncio.wait_for(task, 60)  # run() ends with the consumer's fatal error
