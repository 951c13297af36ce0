"""Helpers for the runner's integration tests: produce, read back, committed offsets."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterable

import pytest
from confluent_kafka import Consumer, Message, Producer, TopicPartition


def produce(
    bootstrap: str, topic: str, records: Iterable[tuple[str, bytes]], partition: int | None = None
) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for key, value in records:
        if partition is None:
            producer.produce(topic, value=value, key=key)
        else:
            producer.produce(topic, value=value, key=key, partition=partition)
    assert producer.flush(30) == 0


def read_all(bootstrap: str, topic: str, expected: int, timeout: float = 60.0) -> list[Message]:
    """Every record of ``topic`` (from the start) once ``expected`` arrived or the timeout passed."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"reader-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    records: list[Message] = []
    deadline = time.monotonic() + timeout
    try:
        while len(records) < expected and time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is not None and message.error() is None:
                records.append(message)
        # A short grace read so extra (duplicate) records are seen too.
        end = time.monotonic() + 0.5
        while time.monotonic() < end:
            message = consumer.poll(0.1)
            if message is not None and message.error() is None:
                records.append(message)
    finally:
        consumer.close()
    return records


def committed(bootstrap: str, group: str, topic: str, partitions: int) -> dict[int, int]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        offsets = consumer.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=10)
    finally:
        consumer.close()
    return {tp.partition: tp.offset for tp in offsets}


async def wait_until(predicate, limit_s: float = 60.0, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(interval)
    return bool(predicate())


class KafkaIO:
    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap

    def produce(self, topic, records, partition=None):
        produce(self.bootstrap, topic, records, partition)

    def read_all(self, topic, expected, timeout=60.0):
        return read_all(self.bootstrap, topic, expected, timeout)

    def committed(self, group, topic, partitions):
        return committed(self.bootstrap, group, topic, partitions)


@pytest.fixture
def kio(kafka_bootstrap: str) -> KafkaIO:
    return KafkaIO(kafka_bootstrap)


@pytest.fixture
def until():
    return wait_until
