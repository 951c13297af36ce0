"""Create the topics callpipe needs, idempotently, through the AdminClient.

With ``KAFKA_TOPIC_RETENTION_HOURS`` set, the topics get that ``retention.ms``: at creation, and
on topics that already exist (created by an earlier version, or by hand) when theirs differs, since
the setting says how long call data (transcripts, numbers) may sit in the log. Without it nothing
is set and the broker's default applies. Partitions are never changed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient

# The admin package re-exports these without declaring it (no __all__): import them from where
# they are defined, as NewTopic is from cimpl, so strict mypy sees them.
from confluent_kafka.admin._config import AlterConfigOpType, ConfigEntry, ConfigResource
from confluent_kafka.admin._resource import ResourceType
from confluent_kafka.cimpl import NewTopic

from callpipe.errors import DependencyUnavailableError
from callpipe.kafka._client_logs import KafkaClientLogger
from callpipe.kafka._clients import AdminFactory
from callpipe.settings import KafkaSettings

__all__ = ["ensure_topics", "topic_config"]

_log = logging.getLogger(__name__)


def topic_config(kafka: KafkaSettings) -> dict[str, str]:
    """The topic-level configuration callpipe sets on its topics (``retention.ms`` when configured)."""
    if kafka.topic_retention_hours is None:
        return {}
    return {"retention.ms": str(kafka.topic_retention_hours * 3_600_000)}


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
    config = topic_config(kafka)
    missing = [n for n in wanted if n not in existing]
    if config:
        _align_config(admin, [n for n in wanted if n in existing], config, timeout_s)
    if not missing:
        return []
    new = [
        NewTopic(
            n,
            num_partitions=partitions or kafka.topic_partitions,
            replication_factor=kafka.topic_replication,
            config=config,
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


def _align_config(admin: AdminClient, names: list[str], config: dict[str, str], timeout_s: float) -> None:
    """Set ``config`` on existing topics whose values differ. A broker that refuses (no
    AlterConfigs permission on a managed cluster) is logged, not fatal: the topics work, and the
    operator sets retention there (README, Retention)."""
    if not names:
        return
    try:
        described = admin.describe_configs(
            [ConfigResource(ResourceType.TOPIC, n) for n in names], request_timeout=timeout_s
        )
        stale = []
        for resource, future in described.items():
            entries = future.result(timeout=timeout_s)
            if any(entries[k].value != v if k in entries else True for k, v in config.items()):
                stale.append(resource.name)
        if not stale:
            return
        changes = [
            ConfigResource(
                ResourceType.TOPIC,
                name,
                incremental_configs=[
                    ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET) for k, v in config.items()
                ],
            )
            for name in stale
        ]
        for resource, future in admin.incremental_alter_configs(changes, request_timeout=timeout_s).items():
            future.result(timeout=timeout_s)
            _log.info("topic configuration set", extra={"topic": resource.name, **config})
    except (KafkaException, TimeoutError) as exc:
        _log.warning(
            "could not set the configuration of existing topics", extra={"topics": names, "error": str(exc)}
        )
