"""Local development servers started from Maven Central jars, no Docker: an Apache Kafka broker
(KRaft) and an Apicurio schema registry. Used by the pytest fixtures, ``./dev`` and the demo.
"""

from __future__ import annotations

from callpipe_tools.local._errors import FetchError, LocalInfraError, ServerStartError
from callpipe_tools.local._jars import cache_dir, ensure_apicurio, ensure_kafka_jars
from callpipe_tools.local.kafka import LocalKafka
from callpipe_tools.local.registry import LocalRegistry
from callpipe_tools.local.topics import TopicFactory, create_topic, delete_topics, unique_topic_name

__all__ = [
    "FetchError",
    "LocalInfraError",
    "LocalKafka",
    "LocalRegistry",
    "ServerStartError",
    "TopicFactory",
    "cache_dir",
    "create_topic",
    "delete_topics",
    "ensure_apicurio",
    "ensure_kafka_jars",
    "unique_topic_name",
]
