"""A fatal producer error replaces the librdkafka instance; repeated ones make the runner give up.

The fake stands in for confluent_kafka.Producer through ``producer_factory``: librdkafka offers
no way to trigger a fatal idempotence error from Python, and the decision is ours to test.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from confluent_kafka import KafkaError

from callpipe.errors import DependencyUnavailableError
from callpipe.kafka import EventProducer, is_fatal
from callpipe.runner import MessageStage, StageRunner
from callpipe.runner._output import Outputs
from callpipe.settings import KafkaSettings, RunnerSettings

FATAL = KafkaError(KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER, "idempotence state lost", fatal=True)


class FakeMessage:
    def __init__(self, topic: str) -> None:
        self._topic = topic

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return 7


class FakeProducer:
    """Acks every record, or (``dead``) fails it with a fatal error as librdkafka does."""

    def __init__(self, config: dict[str, Any], *, dead: bool) -> None:
        self.config = config
        self.dead = dead
        self.queued: list[tuple[str, Any]] = []
        self.purged = False

    def produce(self, topic: str, *, value: bytes, key: Any, headers: Any, on_delivery: Any) -> None:
        self.queued.append((topic, on_delivery))

    def poll(self, timeout: float) -> int:
        served, self.queued = self.queued, []
        for topic, on_delivery in served:
            if self.dead:
                self.config["error_cb"](FATAL)
                on_delivery(FATAL, FakeMessage(topic))
            else:
                on_delivery(None, FakeMessage(topic))
        if not served:
            time.sleep(min(timeout, 0.01))
        return len(served)

    def purge(self, **_: Any) -> None:
        self.purged = True

    def flush(self, timeout: float = 0) -> int:
        self.poll(0)
        return 0

    def __len__(self) -> int:
        return len(self.queued)


class Factory:
    def __init__(self, dead_instances: int) -> None:
        self.dead_instances = dead_instances
        self.made: list[FakeProducer] = []

    def __call__(self, config: dict[str, Any]) -> FakeProducer:
        producer = FakeProducer(config, dead=len(self.made) < self.dead_instances)
        self.made.append(producer)
        return producer


async def wait_for(predicate: Any, limit_s: float = 5.0) -> None:
    deadline = time.monotonic() + limit_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


def test_fatal_is_recognised():
    assert is_fatal(FATAL)
    assert is_fatal(KafkaError(KafkaError._FATAL))
    assert not is_fatal(KafkaError(KafkaError._TRANSPORT, "broker down"))


async def test_a_fatal_error_replaces_the_instance_and_the_resend_succeeds():
    factory = Factory(dead_instances=1)
    producer = EventProducer(KafkaSettings(), producer_factory=factory)
    try:
        # The dead instance fails the record back to its sender: retryable, the record is kept.
        with pytest.raises(DependencyUnavailableError, match="OUT_OF_ORDER_SEQUENCE_NUMBER"):
            await producer.send("callpipe.transcripts", "CA1", b"{}")
        await wait_for(lambda: producer.replacements == 1)
        assert len(factory.made) == 2 and factory.made[0].purged
        delivered = await producer.send("callpipe.transcripts", "CA1", b"{}")
        assert delivered.offset == 7
        assert producer.failure is None
    finally:
        producer.close(timeout_s=1)


async def test_fatal_errors_that_keep_coming_make_the_producer_give_up():
    factory = Factory(dead_instances=100)
    producer = EventProducer(KafkaSettings(), producer_factory=factory, max_fatal_restarts=2)
    try:
        for _ in range(3):
            with pytest.raises(DependencyUnavailableError):
                await producer.send("callpipe.transcripts", "CA1", b"{}")
            await wait_for(lambda: producer.failure is not None or not producer._fatal_seen)
        await wait_for(lambda: producer.failure is not None)
        assert len(factory.made) == 3  # the first instance and two replacements, then no more
        with pytest.raises(DependencyUnavailableError, match="giving up"):
            await producer.send("callpipe.transcripts", "CA1", b"{}")
        assert len(factory.made) == 3
    finally:
        producer.close(timeout_s=1)


async def test_the_runner_fails_its_health_check_and_stops_when_the_producer_gave_up():
    stage: MessageStage[bytes, bytes] = MessageStage(
        name="fatal-test", input_topic="in", decode=bytes, process=lambda b: asyncio.sleep(0, b)
    )
    runner = StageRunner(
        stage,
        kafka=KafkaSettings(),
        dead_letter_topic="callpipe.dlq.fatal-test",
        runner=RunnerSettings(backoff_initial_s=0.01, backoff_max_s=0.02),
        install_signal_handlers=False,
    )
    assert runner.health()[0]
    # What the runner's deliveries go through, wired as run() wires it.
    outputs: Outputs = runner._outputs
    producer = EventProducer(
        KafkaSettings(), producer_factory=Factory(dead_instances=100), max_fatal_restarts=0
    )
    outputs.producer = producer
    taken = type("T", (), {"tp": ("in", 0)})()
    delivery = asyncio.create_task(outputs.deliver(taken, "out", "CA1", b"{}", None))
    try:
        await wait_for(lambda: not runner.health()[0])
        healthy, detail = runner.health()
        assert not healthy and "giving up" in detail
        assert runner._stop_requested  # it stops, so the process exits and is restarted
        assert not delivery.done()  # the record is kept (retrying), never dropped as delivered
    finally:
        delivery.cancel()
        producer.close(timeout_s=1)
