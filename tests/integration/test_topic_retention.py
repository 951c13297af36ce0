"""KAFKA_TOPIC_RETENTION_HOURS on a real broker: topics callpipe creates get that retention.ms,
topics that already exist with another value are brought to it, and without the setting nothing
is set (the broker's default applies)."""

from __future__ import annotations

from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._config import ConfigResource
from confluent_kafka.admin._resource import ResourceType

from callpipe.kafka import ensure_topics
from callpipe.settings import KafkaSettings
from callpipe_tools.local import TopicFactory, delete_topics, unique_topic_name


def _retention_ms(bootstrap: str, topic: str) -> tuple[str, bool]:
    """(retention.ms, whether it is the broker's default) of ``topic``."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    resource = ConfigResource(ResourceType.TOPIC, topic)
    entry = admin.describe_configs([resource])[resource].result(timeout=30)["retention.ms"]
    return str(entry.value), bool(entry.is_default)


def test_created_and_existing_topics_get_the_configured_retention(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    existing = new_topic(prefix="ret-existing", config={"retention.ms": "604800000"})
    fresh, untouched = unique_topic_name("ret-new"), unique_topic_name("ret-default")
    try:
        kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap, topic_partitions=1, topic_retention_hours=48)
        assert ensure_topics(kafka, [existing, fresh]) == [fresh]
        assert _retention_ms(kafka_bootstrap, fresh)[0] == str(48 * 3_600_000)
        assert _retention_ms(kafka_bootstrap, existing)[0] == str(48 * 3_600_000)
        assert ensure_topics(kafka, [existing, fresh]) == []  # a restart changes nothing

        plain = KafkaSettings(bootstrap_servers=kafka_bootstrap, topic_partitions=1)
        ensure_topics(plain, [untouched, existing])
        assert _retention_ms(kafka_bootstrap, untouched)[1]  # the broker's default
        assert _retention_ms(kafka_bootstrap, existing)[0] == str(48 * 3_600_000)  # not reset
    finally:
        delete_topics(kafka_bootstrap, [fresh, untouched])
