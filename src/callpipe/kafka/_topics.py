"""Create the topics callpipe needs, idempotently, through the AdminClient."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from callpipe.errors import DependencyUnavailableError
from callpipe.kafka._client_logs import KafkaClientLogger
from callpipe.kafka._clients import AdminFactory
from callpipe.settings import KafkaSettings

__all__ = ["ensure_topics"]

_log = logging.getLogger(__name__)


def ensure_topics(
    kafka: KafkaSettings,
    names: Iterable[str],
    partitions: int | None = None,
    *,
    timeout_s: float = 30.0,
    admin_factory: AdminFactory = AdminClient,
) -> list[str]:
    """Create every missing topic; returns the names that were created now.

    An existing topic is fine (TOPIC_ALREADY_EXISTS), whatever its partition count: callpipe never
    shrinks or repartitions a topic behind the operator's back. Raises DependencyUnavailableError
    when the broker cannot be reached within ``timeout_s``. ``admin_factory`` builds the admin
    client (see :class:`callpipe.kafka.KafkaClients`).
    """
    wanted = sorted(set(names))
    if not wanted:
        return []
    config: dict[str, Any] = {**kafka.common_config(), "logger": KafkaClientLogger("admin")}
    admin = admin_factory(config)
    try:
        return _create_missing(admin, kafka, wanted, partitions, timeout_s)
    finally:
        # The admin client's log lines are queued until polled: hand them to logging now.
        admin.poll(0)


def _create_missing(
    admin: Any, kafka: KafkaSettings, wanted: list[str], partitions: int | None, timeout_s: float
) -> list[str]:
    try:
        existing = set(admin.list_topics(timeout=timeout_s).topics)
    except KafkaException as exc:
        raise DependencyUnavailableError(f"Kafka unreachable while listing topics: {exc}") from exc
    missing = [n for n in wanted if n not in existing]
    if not missing:
        return []
    new = [
        NewTopic(
            n,
            num_partitions=partitions or kafka.topic_partitions,
            replication_factor=kafka.topic_replication,
        )
        for n in missing
    ]
    created: list[str] = []
    futures = admin.create_topics(new, operation_timeout=timeout_s, request_timeout=timeout_s)
    for name, future in futures.items():
        try:
            future.result(timeout=timeout_s)
            created.append(name)
            _log.info("created topic", extra={"topic": name})
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            if isinstance(error, KafkaError) and error.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                continue  # another instance created it between our list and create: fine
            raise DependencyUnavailableError(f"could not create topic {name!r}: {exc}") from exc
    return created
