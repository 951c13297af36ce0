"""Helpers for the fault tests: Avro events on the real broker, read back with headers."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable

import pytest
from confluent_kafka import Consumer, Message, Producer


def produce(bootstrap: str, topic: str, records: Iterable[tuple[str, bytes]]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for key, value in records:
        producer.produce(topic, value=value, key=key)
    assert producer.flush(30) == 0


def read_all(bootstrap: str, topic: str, expected: int, timeout: float = 60.0) -> list[Message]:
    """Every record of ``topic`` once ``expected`` arrived (or the timeout), plus a grace read."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"faults-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    records: list[Message] = []
    deadline = time.monotonic() + timeout
    grace_until: float | None = None
    try:
        while time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is not None and message.error() is None:
                records.append(message)
            if len(records) >= expected and grace_until is None:
                grace_until = time.monotonic() + 1.0
            if grace_until is not None and time.monotonic() > grace_until:
                break
    finally:
        consumer.close()
    return records


def header(message: Message, name: str) -> str | None:
    for key, value in dict(message.headers() or []).items():
        if key == name:
            return value.decode() if isinstance(value, bytes) else value
    return None


Until = Callable[[Callable[[], bool], float], Awaitable[bool]]


@pytest.fixture
def until() -> Until:
    async def wait(condition: Callable[[], bool], limit_s: float) -> bool:
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            if condition():
                return True
            await asyncio.sleep(0.1)
        return condition()

    return wait
