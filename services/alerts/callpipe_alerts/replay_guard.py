"""Alert ids already on the alerts topic (its keys), read once at start.

The job's state and its alert sends are not one transaction: a SIGKILL after the broker acknowledged
an alert and before the state recording it reached the changelog would replay that window and
raise the alert again. Alert ids are deterministic, so seeding the fired set from the topic closes
that gap. The topic holds few, small records; reading its keys is cheap.
"""

from __future__ import annotations

import uuid
from typing import Any

from confluent_kafka import Consumer, TopicPartition

__all__ = ["alert_ids_on_topic"]


def alert_ids_on_topic(common_config: dict[str, Any], topic: str, timeout_s: float = 30.0) -> list[str]:
    consumer = Consumer(
        {
            **common_config,
            "group.id": f"alerts-guard-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    try:
        metadata = consumer.list_topics(topic, timeout=timeout_s).topics.get(topic)
        if metadata is None or metadata.error is not None:
            return []
        ids: list[str] = []
        ends: dict[int, int] = {}
        assignments = []
        for partition in metadata.partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout_s)
            if high > low:
                ends[partition] = high
                assignments.append(TopicPartition(topic, partition, low))
        if not assignments:
            return []
        consumer.assign(assignments)
        done: set[int] = set()
        while len(done) < len(ends):
            message = consumer.poll(1.0)
            if message is None or message.error() is not None:
                continue
            key = message.key()
            if key:
                ids.append(key.decode())
            partition, offset = message.partition(), message.offset()
            if partition is not None and offset is not None and offset + 1 >= ends[partition]:
                done.add(partition)
        return ids
    finally:
        consumer.close()
