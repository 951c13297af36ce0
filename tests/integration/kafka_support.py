"""Produce to and read back from real topics: the one copy every integration test uses."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable

from confluent_kafka import Consumer, Message, Producer

__all__ = ["produce", "read_topic"]


def produce(
    bootstrap: str, topic: str, records: Iterable[tuple[str, bytes]], partition: int | None = None
) -> None:
    """Produce ``(key, value)`` records idempotently and wait until the broker acknowledged all."""
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for key, value in records:
        if partition is None:
            producer.produce(topic, value=value, key=key)
        else:
            producer.produce(topic, value=value, key=key, partition=partition)
    assert producer.flush(30) == 0


def read_topic(
    bootstrap: str, topic: str, expected: int, timeout_s: float = 60.0, grace_s: float = 1.0
) -> list[Message]:
    """Every record of ``topic`` from the start: waits for ``expected`` (or the timeout), then
    reads on for ``grace_s`` so records beyond ``expected`` (duplicates) are seen too."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"it-reader-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    records: list[Message] = []
    try:
        deadline = time.monotonic() + timeout_s
        while len(records) < expected and time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is not None and message.error() is None:
                records.append(message)
        end = time.monotonic() + grace_s
        while time.monotonic() < end:
            message = consumer.poll(0.1)
            if message is not None and message.error() is None:
                records.append(message)
    finally:
        consumer.close()
    return records
