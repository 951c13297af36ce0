"""Constants and helpers shared by the sink's integration tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.integration import kafka_support

# Seeded data ends here; the insights app's clock is pinned to it.
SEED_END = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
TOKEN = "test-token-0123456789abcdef"


def produce(bootstrap: str, topic: str, records: list[tuple[str, bytes]]) -> None:
    kafka_support.produce(bootstrap, topic, records)


def read_all(bootstrap: str, topic: str, expected: int, timeout: float = 60.0) -> list[Any]:
    return kafka_support.read_topic(bootstrap, topic, expected, timeout, grace_s=0.0)
