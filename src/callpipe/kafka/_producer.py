"""EventProducer: an idempotent producer whose ``send`` returns only after the broker acknowledged.

One confluent-kafka Producer, one background thread that serves its delivery reports
(``poll``), and asyncio futures resolved from those reports. Nothing counts as sent until the
broker acknowledged it with acks=all, which is what lets the runner commit an input offset only
after its output is safe.

Fatal errors (``KafkaError.fatal()``: the idempotent producer lost its sequence state, was fenced,
…) leave the librdkafka instance unusable for good: every later produce fails. Retrying on it
would be retrying forever. We REPLACE the instance in-process rather than fail the health check
and wait for the orchestrator, because the fault belongs to the instance (its producer id and
sequence numbers), not to the process: a fresh instance gets a new producer id and works at once,
while a process restart would throw away every in-flight call (a minute of transcription each),
rebalance the whole consumer group, and — for ingest, or a runner without a metrics port — needs
a supervisor probing a health endpoint that may not be there. Records the dead instance still
held are failed back to their senders as DependencyUnavailableError, so callers re-send them on
the new instance (at-least-once: a record the broker did store may appear twice; consumers are
idempotent on the call id). If fatal errors keep coming (``max_fatal_restarts`` within
``fatal_window_s``), the cause is not the instance (broker config, ACLs, a bug): we stop
replacing, set ``failure``, and every send fails at once; the stage runner then fails its
health check and stops so the process exits and is restarted, loudly.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from callpipe.errors import CallpipeError, DependencyUnavailableError, InvalidOutputError
from callpipe.kafka._client_logs import KafkaClientLogger
from callpipe.kafka._clients import ProducerFactory
from callpipe.settings import KafkaSettings

__all__ = [
    "Delivered",
    "EventProducer",
    "ProducerFactory",
    "delivery_error_to_callpipe",
    "is_fatal",
    "producer_config",
]

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
# How long a replaced instance may take to hand back the reports of what it still held.
_DRAIN_DEAD_S = 5.0


@dataclass(frozen=True, slots=True)
class Delivered:
    """Where the broker stored an acknowledged record."""

    topic: str
    partition: int
    offset: int


def producer_config(
    kafka: KafkaSettings,
    *,
    delivery_timeout_s: float = 30.0,
    overrides: dict[str, Any] | None = None,
    stage: str | None = None,
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
        # librdkafka's own log lines go through Python logging (JSON), not raw to stderr.
        "logger": KafkaClientLogger("producer", stage),
    }
    config.update(overrides or {})
    return config


def is_fatal(error: KafkaError) -> bool:
    """The producer instance is unusable after this error (only a new instance can produce)."""
    return bool(error.fatal()) or error.code() == KafkaError._FATAL


def delivery_error_to_callpipe(error: KafkaError, topic: str) -> CallpipeError:
    """Translate a failed delivery report into the callpipe error that decides what happens next."""
    text = f"delivery to {topic!r} failed: {error.name()}: {error.str()}"
    if error.code() in _PERMANENT_CODES:
        return InvalidOutputError(text)
    # Timeouts, unreachable brokers, missing topics, authorisation, a fatal producer error (the
    # instance is replaced): nothing about the record is wrong. The caller retries, keeping it.
    return DependencyUnavailableError(text)


class EventProducer:
    """Acknowledged, idempotent producer for services that publish outside a stage (ingest)."""

    def __init__(
        self,
        kafka: KafkaSettings,
        *,
        delivery_timeout_s: float = 30.0,
        config_overrides: dict[str, Any] | None = None,
        stage: str | None = None,
        max_fatal_restarts: int = 3,
        fatal_window_s: float = 600.0,
        producer_factory: ProducerFactory = Producer,
    ) -> None:
        self._delivery_timeout_s = delivery_timeout_s
        self._config = producer_config(
            kafka, delivery_timeout_s=delivery_timeout_s, overrides=config_overrides, stage=stage
        )
        self._config.setdefault("error_cb", self._on_client_error)
        self._factory = producer_factory
        self._max_fatal_restarts = max_fatal_restarts
        self._fatal_window_s = fatal_window_s
        self._restarts: deque[float] = deque()
        # Set by callbacks (poll thread) or a refused produce (loop); acted on by the poll thread.
        self._fatal_seen: KafkaError | None = None
        # Held around produce() and the swap, so no record lands on an instance nobody polls.
        self._swap = threading.Lock()
        self._producer = self._factory(self._config)
        self.replacements = 0
        # Set when fatal errors kept coming: this producer gave up, the process should restart.
        self.failure: DependencyUnavailableError | None = None
        self._closed = threading.Event()
        self._poller = threading.Thread(target=self._poll_forever, name="callpipe-producer-poll", daemon=True)
        self._poller.start()

    # -- poll thread ----------------------------------------------------------------------

    def _poll_forever(self) -> None:
        # Delivery callbacks run here; they only hand results to the event loop.
        while not self._closed.is_set():
            self._producer.poll(0.1)
            if self._fatal_seen is not None and self.failure is None:
                self._replace_after_fatal(self._fatal_seen)

    def _on_client_error(self, error: KafkaError) -> None:
        if is_fatal(error):
            self._fatal_seen = error
        # Broker connection errors are retried inside librdkafka; they only explain slow acks.
        level = logging.ERROR if is_fatal(error) else logging.WARNING
        _log.log(level, "kafka producer error", extra={"kafka_error": error.str(), "code": error.name()})

    def _replace_after_fatal(self, error: KafkaError) -> None:
        now = time.monotonic()
        while self._restarts and now - self._restarts[0] > self._fatal_window_s:
            self._restarts.popleft()
        extra = {"kafka_error": error.str(), "code": error.name(), "replacements": self.replacements}
        if len(self._restarts) >= self._max_fatal_restarts:
            self.failure = DependencyUnavailableError(
                f"producer hit {len(self._restarts) + 1} fatal errors within {self._fatal_window_s:.0f}s "
                f"(last: {error.name()}: {error.str()}); giving up, the process must restart"
            )
            _log.critical("kafka producer failed for good", extra=extra)
            return
        self._restarts.append(now)
        with self._swap:
            dead, self._producer = self._producer, self._factory(self._config)
            self._fatal_seen = None
            self.replacements += 1
        _log.error("kafka producer hit a fatal error; replaced it with a new instance", extra=extra)
        # Fail back what the dead instance still holds, so each sender re-sends on the new one.
        try:
            dead.purge(in_queue=True, in_flight=True, blocking=False)
        except (KafkaException, NotImplementedError, RuntimeError) as exc:
            _log.warning("purging the dead producer failed", extra={"error": str(exc)})
        deadline = time.monotonic() + _DRAIN_DEAD_S
        while len(dead) and time.monotonic() < deadline:
            dead.poll(0.05)

    # -- event loop -----------------------------------------------------------------------

    async def send(
        self, topic: str, key: str | bytes | None, value: bytes, headers: Headers | None = None
    ) -> Delivered:
        """Produce one record and wait for the broker's acknowledgement (acks=all).

        Raises DependencyUnavailableError when it is not acknowledged within the delivery timeout
        (or the producer instance died: re-send, it is being replaced), InvalidOutputError when
        the broker can never accept it (too large).
        """
        if self._closed.is_set():
            raise DependencyUnavailableError("producer is closed")
        if self.failure is not None:
            raise self.failure
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Delivered] = loop.create_future()

        def on_delivery(error: KafkaError | None, message: Message) -> None:
            if error is not None:
                if is_fatal(error):
                    self._fatal_seen = error
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
                with self._swap:
                    self._producer.produce(
                        topic, value=value, key=key, headers=headers, on_delivery=on_delivery
                    )
                break
            except KafkaException as exc:  # refused locally (too large, unknown config, fatal)
                error = exc.args[0] if exc.args else None
                if isinstance(error, KafkaError):
                    if is_fatal(error):
                        self._fatal_seen = error
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
