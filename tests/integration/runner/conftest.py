"""Helpers for the runner's integration tests: produce, read back, committed offsets."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

import pytest
from confluent_kafka import Consumer, Message, TopicPartition

from tests.integration import kafka_support


def produce(
    bootstrap: str, topic: str, records: Iterable[tuple[str, bytes]], partition: int | None = None
) -> None:
    kafka_support.produce(bootstrap, topic, records, partition)


def read_all(bootstrap: str, topic: str, expected: int, timeout: float = 60.0) -> list[Message]:
    """Every record of ``topic`` (from the start) once ``expected`` arrived or the timeout passed."""
    return kafka_support.read_topic(bootstrap, topic, expected, timeout, grace_s=0.5)


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
