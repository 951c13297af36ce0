"""librdkafka's own log lines, routed through Python logging (so they come out as our JSON lines).

Without a ``logger`` property librdkafka writes lines like ``%3|1712…|FAIL|rdkafka#producer-1|
…Connection refused`` straight to stderr from its internal threads, unstructured and mixed into
the services' JSON logs. With one, confluent-kafka queues them and hands them to ``logger.log``
from the thread that calls ``poll``/``consume``/``flush`` of that client (our producer poll
thread, the runner's consumer thread, ``ensure_topics`` after each admin call), already mapped
from syslog levels to Python levels.

confluent-kafka calls ``log(level, "%s [%s] %s", facility, client_name, text)``; we split those
into fields instead of one formatted string, and add which stage and which client wrote them.
"""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["LIBRDKAFKA_LOGGER", "KafkaClientLogger"]

LIBRDKAFKA_LOGGER = "callpipe.kafka.librdkafka"


class KafkaClientLogger:
    """The object given to confluent-kafka as the ``logger`` config property."""

    def __init__(self, client: str, stage: str | None = None) -> None:
        self.client = client  # "producer", "consumer" or "admin"
        self.stage = stage
        self._logger = logging.getLogger(LIBRDKAFKA_LOGGER)

    def log(self, level: int, msg: str, *args: Any, **kwargs: Any) -> None:
        if not self._logger.isEnabledFor(level):
            return
        extra: dict[str, Any] = {"kafka_client": self.client}
        if self.stage is not None:
            extra["stage"] = self.stage
        if msg == "%s [%s] %s" and len(args) == 3:
            facility, instance, text = args
            extra["kafka_facility"] = str(facility)
            extra["kafka_instance"] = str(instance)
            self._logger.log(level, "%s", text, extra=extra)
            return
        # Another shape from a future confluent-kafka: keep the line as it comes.
        self._logger.log(level, msg, *args, extra=extra)

    def __repr__(self) -> str:  # shown if someone logs the client config
        return f"KafkaClientLogger(client={self.client!r}, stage={self.stage!r})"
