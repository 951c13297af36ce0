"""Creating throw-away topics for tests and demos, and waiting until they can be used.

``create_topics`` returning is not enough on a fresh broker: the partition leaders appear in the
metadata a moment later, and a producer that races them sees UNKNOWN_TOPIC_OR_PART.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Mapping
from typing import Protocol

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from callpipe_tools.local._errors import LocalInfraError

__all__ = ["TopicFactory", "create_topic", "delete_topics", "unique_topic_name"]


class TopicFactory(Protocol):
    """What the ``new_topic`` pytest fixture returns: call it to get a fresh, ready topic name."""

    def __call__(
        self, partitions: int = 1, *, prefix: str = "test", config: Mapping[str, str] | None = None
    ) -> str: ...


def unique_topic_name(prefix: str = "test") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def create_topic(
    bootstrap_servers: str,
    name: str,
    partitions: int = 1,
    *,
    config: Mapping[str, str] | None = None,
    timeout: float = 30.0,
) -> None:
    """Create ``name`` (replication 1) and wait until every partition has a leader."""
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    futures = admin.create_topics(
        [NewTopic(name, num_partitions=partitions, replication_factor=1, config=dict(config or {}))],
        operation_timeout=timeout,
        request_timeout=timeout,
    )
    try:
        futures[name].result(timeout)
    except KafkaException as exc:
        raise LocalInfraError(f"could not create topic {name!r}: {exc}") from exc
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        topic = admin.list_topics(name, timeout=5.0).topics.get(name)
        if (
            topic is not None
            and topic.error is None
            and len(topic.partitions) == partitions
            and all(p.leader >= 0 for p in topic.partitions.values())
        ):
            return
        time.sleep(0.1)
    raise LocalInfraError(f"topic {name!r} has no leader for every partition after {timeout:.0f}s")


def delete_topics(bootstrap_servers: str, names: list[str], *, timeout: float = 10.0) -> None:
    """Best-effort delete (test clean-up): errors are ignored, a missing topic is fine."""
    if not names:
        return
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    for future in admin.delete_topics(names, operation_timeout=timeout).values():
        # TimeoutError: the broker may be down at clean-up time (a chaos test left it so).
        with contextlib.suppress(KafkaException, TimeoutError):
            future.result(timeout)
