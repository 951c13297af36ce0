"""Local development servers started from Maven Central jars, no Docker: an Apache Kafka broker
(KRaft) and an Apicurio schema registry. Used by the pytest fixtures, ``./dev`` and the demo.
"""

from __future__ import annotations

from callpipe.local._errors import FetchError, LocalInfraError, ServerStartError
from callpipe.local._jars import cache_dir, ensure_apicurio, ensure_kafka_jars
from callpipe.local.kafka import LocalKafka
from callpipe.local.registry import LocalRegistry

__all__ = [
    "FetchError",
    "LocalInfraError",
    "LocalKafka",
    "LocalRegistry",
    "ServerStartError",
    "cache_dir",
    "ensure_apicurio",
    "ensure_kafka_jars",
]
