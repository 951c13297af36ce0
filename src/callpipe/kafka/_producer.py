"""EventProducer: an idempotent producer whose ``send`` returns only after the broker acknowledged.

One confluent-kafka Producer, one background thread that serves its delivery reports
(``poll``), and asyncio futures resolved from those reports. Nothing counts as sent until the
broker acknowledged it with acks=all, which is what lets the runner commit an input offset only
after its output is safe.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from callpipe.errors import CallpipeError, DependencyUnavailableError, InvalidOutputError
from callpipe.settings import KafkaSettings

__all__ = ["Delivered", "EventProducer", "delivery_error_to_callpipe", "producer_config"]

_log = logging.getLogger(__name__)

Headers = list[tuple[str, str | bytes | None]]

# Errors after which the same record can never be accepted: retrying would loop forever.
_PERMANENT_CODES = frozenset(
    {
        KafkaError.MSG_SIZE_TOO_LARGE,
        KafkaError.INVALID_MSG_SIZE,
        KafkaError.INVALID_RECORD,
    }
)


@dataclass(frozen=True, slots=True)
class Delivered:
    """Where the broker stored an acknowledged record."""

    topic: str
    partition: int
    offset: int


def producer_config(
    kafka: KafkaSettings, *, delivery_timeout_s: float = 30.0, overrides: dict[str, Any] | None = None
) -> dict[str, Any]:
    config: dict[str, Any] = {
        **kafka.common_config(),
        # Idempotence implies acks=all and in-order, duplicate-free retries inside librdkafka:
        # a broker hiccup never reorders or duplicates the records of one call id.
        "enable.idempotence": True,
        "acks": "all",
        "delivery.timeout.ms": int(delivery_timeout_s * 1000),
        "linger.ms": 5,
        # Transcripts are text: lz4 shrinks them cheaply on 2 cores.
        "compression.type": "lz4",
    }
    config.update(overrides or {})
    return config


def delivery_error_to_callpipe(error: KafkaError, topic: str) -> CallpipeError:
    """Translate a failed delivery report into the callpipe error that decides what happens next."""
    text = f"delivery to {topic!r} failed: {error.name()}: {error.str()}"
    if error.code() in _PERMANENT_CODES:
        return InvalidOutputError(text)
    # Timeouts, unreachable brokers, missing topics, authorisation: the broker side must be fixed,
    # nothing about the record is wrong. The caller retries without losing the record.
    return DependencyUnavailableError(text)


class EventProducer:
    """Acknowledged, idempotent producer for services that publish outside a stage (ingest)."""

    def __init__(
        self,
        kafka: KafkaSettings,
        *,
        delivery_timeout_s: float = 30.0,
        config_overrides: dict[str, Any] | None = None,
    ) -> None:
        self._delivery_timeout_s = delivery_timeout_s
        self._producer = Producer(
            producer_config(kafka, delivery_timeout_s=delivery_timeout_s, overrides=config_overrides)
        )
        self._closed = threading.Event()
        self._poller = threading.Thread(target=self._poll_forever, name="callpipe-producer-poll", daemon=True)
        self._poller.start()

    def _poll_forever(self) -> None:
        # Delivery callbacks run here; they only hand results to the event loop.
        while not self._closed.is_set():
            self._producer.poll(0.1)

    async def send(
        self, topic: str, key: str | bytes | None, value: bytes, headers: Headers | None = None
    ) -> Delivered:
        """Produce one record and wait for the broker's acknowledgement (acks=all).

        Raises DependencyUnavailableError when it is not acknowledged within the delivery timeout,
        InvalidOutputError when the broker can never accept it (too large).
        """
        if self._closed.is_set():
            raise DependencyUnavailableError("producer is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Delivered] = loop.create_future()

        def on_delivery(error: KafkaError | None, message: Message) -> None:
            if error is not None:
                outcome: Delivered | CallpipeError = delivery_error_to_callpipe(error, topic)
            else:
                part, offset = message.partition(), message.offset()
                outcome = Delivered(
                    message.topic() or topic, -1 if part is None else part, -1 if offset is None else offset
                )
            try:
                loop.call_soon_threadsafe(_resolve, future, outcome)
            except RuntimeError:  # the loop is already closed (late report after shutdown)
                _log.debug("delivery report after the event loop closed", extra={"topic": topic})

        deadline = time.monotonic() + self._delivery_timeout_s
        while True:
            try:
                self._producer.produce(topic, value=value, key=key, headers=headers, on_delivery=on_delivery)
                break
            except KafkaException as exc:  # refused locally (too large, unknown config): not retryable
                error = exc.args[0] if exc.args else None
                if isinstance(error, KafkaError):
                    raise delivery_error_to_callpipe(error, topic) from exc
                raise DependencyUnavailableError(f"produce to {topic!r} failed: {exc}") from exc
            except BufferError:
                # The local queue is full (broker slow or down): wait for room, within our deadline.
                if time.monotonic() > deadline:
                    raise DependencyUnavailableError(
                        f"producer queue stayed full for {self._delivery_timeout_s:.0f}s (broker down?)"
                    ) from None
                await asyncio.sleep(0.05)
        return await future

    def flush(self, timeout_s: float = 30.0) -> int:
        """Wait for outstanding deliveries; returns how many are still undelivered."""
        return int(self._producer.flush(timeout_s))

    def close(self, timeout_s: float = 30.0) -> None:
        """Flush, then stop the poll thread. Records still undelivered are reported in the log."""
        if self._closed.is_set():
            return
        remaining = self.flush(timeout_s)
        self._closed.set()
        self._poller.join(timeout=5)
        if remaining:
            _log.error("producer closed with undelivered records", extra={"undelivered": remaining})

    def __len__(self) -> int:
        """Records produced but not yet acknowledged."""
        return len(self._producer)


def _resolve(future: asyncio.Future[Delivered], outcome: Delivered | CallpipeError) -> None:
    if future.done():  # the waiter was cancelled (shutdown, revoke): nobody needs the result
        return
    if isinstance(outcome, CallpipeError):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
