"""Broker readiness for /readyz: a metadata request through confluent-kafka's AdminClient.

Adapter module (imports the Kafka SDK). The answer is cached for a second so a load balancer
probing every few hundred milliseconds does not hammer the broker.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from callpipe.kafka import KafkaClientLogger
from callpipe.settings import KafkaSettings

__all__ = ["BrokerReadiness"]


class BrokerReadiness:
    def __init__(self, kafka: KafkaSettings, *, timeout_s: float = 2.0, cache_s: float = 1.0) -> None:
        # librdkafka's own lines (broker down, …) as JSON log records, like every other client.
        config: dict[str, Any] = {**kafka.common_config(), "logger": KafkaClientLogger("admin", "ingest")}
        self._admin = AdminClient(config)
        self._timeout_s = timeout_s
        self._cache_s = cache_s
        self._checked_at = -1e9
        self._last: str | None = "not checked yet"

    def _probe(self) -> str | None:
        try:
            self._admin.list_topics(timeout=self._timeout_s)
        except KafkaException as exc:
            return f"Kafka unreachable: {exc}"
        return None

    async def __call__(self) -> str | None:
        if time.monotonic() - self._checked_at > self._cache_s:
            self._last = await asyncio.to_thread(self._probe)
            self._checked_at = time.monotonic()
        return self._last
