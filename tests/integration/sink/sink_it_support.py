"""Constants and helpers shared by the sink's integration tests (imported by name: rootdir import)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

# Seeded data ends here; the insights app's clock is pinned to it.
SEED_END = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
TOKEN = "test-token-0123456789abcdef"


def produce(bootstrap: str, topic: str, records: list[tuple[str, bytes]]) -> None:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for key, value in records:
        producer.produce(topic, value=value, key=key)
    assert producer.flush(30) == 0


def read_all(bootstrap: str, topic: str, expected: int, timeout: float = 60.0) -> list[Any]:
    import time
    import uuid

    from confluent_kafka import Consumer

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"sink-reader-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    records: list[Any] = []
    deadline = time.monotonic() + timeout
    try:
        while len(records) < expected and time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is not None and message.error() is None:
                records.append(message)
    finally:
        consumer.close()
    return records
