"""How callpipe makes its librdkafka clients: one seam, as httpx takes a transport.

Services pass nothing and get confluent-kafka's Consumer, Producer and AdminClient. Tests pass
factories that return fakes, so a stage's whole wiring runs without a broker and without
monkeypatching module globals.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient

__all__ = ["AdminFactory", "ConsumerFactory", "KafkaClients", "ProducerFactory"]

# Each builds a client from its librdkafka config dict (callbacks such as error_cb included).
ConsumerFactory = Callable[[dict[str, Any]], Any]
ProducerFactory = Callable[[dict[str, Any]], Any]
AdminFactory = Callable[[dict[str, Any]], Any]


@dataclass(frozen=True)
class KafkaClients:
    """The client factories a stage uses; the defaults are the real confluent-kafka classes."""

    consumer: ConsumerFactory = Consumer
    producer: ProducerFactory = Producer
    admin: AdminFactory = AdminClient
