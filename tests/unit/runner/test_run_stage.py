"""serve_stage wires a consumer stage the way every service runs: topics, runner, dead letters.

The librdkafka clients come from ``KafkaClients`` factories (as httpx takes a transport): here
they are one in-memory broker, so the whole wiring runs without a server and without
monkeypatching. The real broker is exercised by the services' integration tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import pytest
from confluent_kafka import TopicPartition

from callpipe.errors import PoisonMessageError
from callpipe.kafka import KafkaClients
from callpipe.runner import MessageStage, StageEnvironment, StagePlan, StageSettings, serve_stage
from callpipe.settings import KafkaSettings, RunnerSettings, SchemaRegistrySettings, TopicSettings


@dataclass
class Record:
    topic: str
    offset: int
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]] = field(default_factory=list)


class Message:
    """What confluent-kafka hands a consumer, over one stored record."""

    def __init__(self, record: Record) -> None:
        self._r = record

    def topic(self) -> str:
        return self._r.topic

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return self._r.offset

    def key(self) -> bytes | None:
        return self._r.key

    def value(self) -> bytes:
        return self._r.value

    def headers(self) -> list[tuple[str, bytes]]:
        return self._r.headers

    def error(self) -> None:
        return None


class Broker:
    """One-partition topics in memory, shared by the fake clients the factories build."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.topics: dict[str, list[Record]] = {}
        self.committed: dict[str, int] = {}
        self.consumer_configs: list[dict[str, Any]] = []

    def append(self, topic: str, key: bytes | None, value: bytes, headers: Any = None) -> Record:
        with self.lock:
            records = self.topics[topic]  # KeyError: nobody created the topic
            record = Record(topic, len(records), key, value, _header_list(headers))
            records.append(record)
            return record

    def clients(self) -> KafkaClients:
        return KafkaClients(
            consumer=lambda config: FakeConsumer(self, config),
            producer=lambda config: FakeProducer(self, config),
            admin=lambda config: FakeAdmin(self),
        )


def _header_list(headers: Any) -> list[tuple[str, bytes]]:
    items = headers.items() if isinstance(headers, dict) else (headers or [])
    return [(k, v.encode() if isinstance(v, str) else v) for k, v in items]


class FakeAdmin:
    def __init__(self, broker: Broker) -> None:
        self._broker = broker

    def list_topics(self, timeout: float) -> Any:
        return type("Metadata", (), {"topics": dict.fromkeys(self._broker.topics)})()

    def create_topics(self, new: list[Any], **_: Any) -> dict[str, Future[None]]:
        futures: dict[str, Future[None]] = {}
        for topic in new:
            self._broker.topics.setdefault(topic.topic, [])
            done: Future[None] = Future()
            done.set_result(None)
            futures[topic.topic] = done
        return futures

    def poll(self, timeout: float) -> int:
        return 0


class FakeProducer:
    def __init__(self, broker: Broker, config: dict[str, Any]) -> None:
        self._broker = broker
        self._reports: list[tuple[Callable[..., None], Record]] = []
        self._lock = threading.Lock()

    def produce(self, topic: str, *, value: bytes, key: Any, headers: Any, on_delivery: Any) -> None:
        key_bytes = key.encode() if isinstance(key, str) else key
        record = self._broker.append(topic, key_bytes, value, headers)
        with self._lock:
            self._reports.append((on_delivery, record))

    def poll(self, timeout: float) -> int:
        with self._lock:
            served, self._reports = self._reports, []
        for on_delivery, record in served:
            on_delivery(None, Message(record))
        if not served:
            time.sleep(min(timeout, 0.01))
        return len(served)

    def flush(self, timeout: float) -> int:
        self.poll(0)
        return 0

    def __len__(self) -> int:
        return len(self._reports)


class FakeConsumer:
    """One member owning partition 0 of its one topic from the first poll on."""

    def __init__(self, broker: Broker, config: dict[str, Any]) -> None:
        self._broker = broker
        self._group = str(config["group.id"])
        broker.consumer_configs.append(config)
        self._topic = ""
        self._callbacks: dict[str, Any] = {}
        self._assigned: list[TopicPartition] = []
        self._position = 0
        self._paused = False

    def subscribe(self, topics: list[str], **callbacks: Any) -> None:
        (self._topic,) = topics
        self._callbacks = callbacks

    def _ensure_assigned(self) -> None:
        if not self._assigned:
            self._assigned = [TopicPartition(self._topic, 0)]
            self._position = self._broker.committed.get(self._group, 0)
            self._callbacks["on_assign"](self, self._assigned)

    def consume(self, num_messages: int, timeout: float) -> list[Message]:
        self._ensure_assigned()
        records = [] if self._paused else self._broker.topics[self._topic][self._position :]
        taken = records[:num_messages]
        self._position += len(taken)
        if not taken:
            time.sleep(min(timeout, 0.01))
        return [Message(r) for r in taken]

    def poll(self, timeout: float) -> Message | None:
        messages = self.consume(1, timeout)
        return messages[0] if messages else None

    def assignment(self) -> list[TopicPartition]:
        return list(self._assigned)

    def pause(self, partitions: list[TopicPartition]) -> None:
        self._paused = True

    def resume(self, partitions: list[TopicPartition]) -> None:
        self._paused = False

    def commit(self, offsets: list[TopicPartition], asynchronous: bool) -> None:
        for tp in offsets:
            self._broker.committed[self._group] = tp.offset

    def position(self, partitions: list[TopicPartition]) -> list[TopicPartition]:
        return [TopicPartition(tp.topic, tp.partition, self._position) for tp in partitions]

    def get_watermark_offsets(self, tp: TopicPartition, **_: Any) -> tuple[int, int]:
        return 0, len(self._broker.topics[tp.topic])

    def close(self) -> None:
        if self._assigned:
            self._callbacks["on_revoke"](self, self._assigned)
            self._assigned = []


def _settings(**runner: Any) -> StageSettings:
    return StageSettings(
        KafkaSettings(),
        TopicSettings(dead_letter_prefix="test.dlq"),
        RunnerSettings(commit_interval_s=0.05, backoff_initial_s=0.01, backoff_max_s=0.02, **runner),
        SchemaRegistrySettings(),
    )


def _upper_stage(seen: list[str]) -> MessageStage[str, str]:
    async def process(text: str) -> str:
        seen.append(text)
        return text.upper()

    def decode(raw: bytes) -> str:
        if raw == b"\xff":
            raise PoisonMessageError("not UTF-8")
        return raw.decode()

    return MessageStage(
        name="upper",
        input_topic="test.in",
        decode=decode,
        process=process,
        output_topic="test.out",
        encode=str.encode,
        key=lambda text: text[:2],
    )


async def _until(check: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_a_stage_gets_its_topics_processes_dead_letters_and_stops_cleanly() -> None:
    broker = Broker()
    seen: list[str] = []
    closed: list[str] = []
    stopping = asyncio.Event()

    clients = broker.clients()

    @contextlib.asynccontextmanager
    async def build(env: StageEnvironment) -> AsyncIterator[StagePlan]:
        # A builder's own consumers (the sink's status reader) get the same client factories.
        assert env.clients is clients
        assert env.topics.dead_letter("x") == "test.dlq.x"
        try:
            yield StagePlan(_upper_stage(seen), extra_topics=("test.status",))
        finally:
            closed.append("resources")

    task = asyncio.create_task(
        serve_stage(
            build,
            settings=_settings(max_in_flight=2),
            clients=clients,
            install_signal_handlers=False,
            stopping=stopping,
        )
    )
    # Every topic the stage reads or writes exists before it consumes: input, output, its
    # dead-letter topic under the configured prefix, and the ones the plan names.
    await _until(lambda: "test.in" in broker.topics)
    assert set(broker.topics) == {"test.in", "test.out", "test.dlq.upper", "test.status"}
    for value in (b"ab", b"\xff", b"cd"):
        broker.append("test.in", None, value)

    await _until(lambda: len(broker.topics["test.out"]) == 2 and broker.committed.get("callpipe-upper") == 3)
    assert sorted(r.value for r in broker.topics["test.out"]) == [b"AB", b"CD"]
    (dead,) = broker.topics["test.dlq.upper"]
    assert dead.value == b"\xff"  # the original bytes, with the reason in the headers
    assert any(b"not UTF-8" in v for _, v in dead.headers)
    assert sorted(seen) == ["ab", "cd"]
    assert broker.consumer_configs[0]["group.id"] == "callpipe-upper"

    stopping.set()
    await asyncio.wait_for(task, 10)
    assert closed == ["resources"]


async def test_a_companion_that_fails_stops_the_stage_and_the_failure_is_raised() -> None:
    broker = Broker()

    class Failing:
        stopped = False

        async def run(self) -> None:
            await asyncio.sleep(0.05)
            raise RuntimeError("the API crashed")

        def stop(self) -> None:
            self.stopped = True

    companion = Failing()

    @contextlib.asynccontextmanager
    async def build(env: StageEnvironment) -> AsyncIterator[StagePlan]:
        yield StagePlan(_upper_stage([]), companions={"api": companion})

    with pytest.raises(RuntimeError, match="the API crashed"):
        await asyncio.wait_for(
            serve_stage(build, settings=_settings(), clients=broker.clients(), install_signal_handlers=False),
            10,
        )
    assert companion.stopped


async def test_a_builder_stopped_before_it_was_ready_runs_nothing() -> None:
    broker = Broker()
    stopping = asyncio.Event()
    stopping.set()  # SIGTERM while the builder still waited for its warehouse

    @contextlib.asynccontextmanager
    async def build(env: StageEnvironment) -> AsyncIterator[StagePlan | None]:
        assert env.stopping.is_set()
        yield None

    await serve_stage(
        build,
        settings=_settings(),
        clients=broker.clients(),
        install_signal_handlers=False,
        stopping=stopping,
    )
    assert broker.topics == {}  # nothing created, nothing consumed
