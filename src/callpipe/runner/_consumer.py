"""The consumer side of a runner: one confluent-kafka Consumer, used from ONE dedicated thread.

The Consumer is not thread-safe, and its blocking calls (consume, commit, close) must not stall
the event loop; so every call goes through a single-worker executor. Rebalance callbacks run
inside ``consume`` on that thread and hand over to the event loop (see the runner).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from callpipe.kafka import ConsumerFactory
from callpipe.runner._offsets import TopicPartitionKey

__all__ = ["ConsumerThread", "PartitionsCallback"]

_log = logging.getLogger(__name__)

T = TypeVar("T")
PartitionsCallback = Callable[[list[TopicPartitionKey]], None]


class ConsumerThread:
    def __init__(
        self,
        config: dict[str, Any],
        topic: str,
        *,
        on_assign: PartitionsCallback,
        on_revoke: PartitionsCallback,
        on_lost: PartitionsCallback,
        consumer_factory: ConsumerFactory = Consumer,
    ) -> None:
        self._config = config
        self._factory = consumer_factory
        self._topic = topic
        self._on_assign = on_assign
        self._on_revoke = on_revoke
        self._on_lost = on_lost
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="callpipe-consumer")
        self._consumer: Consumer | None = None
        self._paused: set[TopicPartitionKey] = set()
        # Messages that callbacks-only polls returned (their partition was not paused yet): kept
        # here and handed out first by the next steps that ask for messages, so the runner never
        # takes more than it asked for (a batch over batch_size, a slot over max_in_flight).
        self._held: list[Message] = []
        # A fatal error reported through error_cb (served inside consume, on this thread).
        self._fatal: KafkaError | None = None
        self.failure: BaseException | None = None

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the consumer thread; a failure there marks the runner unhealthy."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, fn, *args)
        except Exception as exc:
            self.failure = exc
            raise

    # -- everything below runs on the consumer thread -------------------------------------

    def open(self) -> None:
        consumer = self._factory({**self._config, "error_cb": self._on_error})
        consumer.subscribe(
            [self._topic], on_assign=self._assigned, on_revoke=self._revoked, on_lost=self._lost
        )
        self._consumer = consumer

    def _assigned(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        keys = _keys(partitions)
        self._paused.difference_update(keys)  # a new assignment starts unpaused
        self._on_assign(keys)

    def _revoked(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        keys = _keys(partitions)
        self._drop_held(keys)
        self._on_revoke(keys)
        self._paused.difference_update(keys)

    def _lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        keys = _keys(partitions)
        self._drop_held(keys)
        self._on_lost(keys)
        self._paused.difference_update(keys)

    def _drop_held(self, keys: list[TopicPartitionKey]) -> None:
        # Its partition's new owner (or our next assignment, from the last commit) reads it again;
        # handing it to a later assignment of ours would skip the offsets before it.
        gone = set(keys)
        self._held = [m for m in self._held if _key(m) not in gone]

    def step(self, paused: set[TopicPartitionKey], num: int, timeout: float) -> list[Message]:
        """Apply the wanted pause state, then take up to ``num`` messages (0: only serve callbacks)."""
        consumer = self._require()
        assigned = set(_keys(consumer.assignment()))
        wanted = paused & assigned
        to_pause, to_resume = wanted - self._paused, (self._paused - wanted) & assigned
        if to_pause:
            consumer.pause([TopicPartition(t, p) for t, p in to_pause])
        if to_resume:
            consumer.resume([TopicPartition(t, p) for t, p in to_resume])
        self._paused = wanted
        if num <= 0:
            # Paused partitions deliver nothing, but polling serves rebalances and keeps us in the
            # group (max.poll.interval.ms) while every slot is busy. A partition not paused yet
            # may deliver a message: it is held for the next steps that want messages.
            message = consumer.poll(timeout)
            messages = [message] if message is not None else []
        elif self._held:
            messages = self._take_held(num, wanted)
            if len(messages) < num:
                # Without a held message to return, block as usual (no busy loop).
                wait = 0.0 if messages else timeout
                messages += consumer.consume(num_messages=num - len(messages), timeout=wait)
        else:
            messages = consumer.consume(num_messages=num, timeout=timeout)
        good: list[Message] = []
        for message in messages:
            error = message.error()
            if error is None:
                good.append(message)
            elif _is_fatal(error):
                raise KafkaException(error)
            else:
                _log.warning("consumer error", extra={"kafka_error": error.str(), "code": error.name()})
        if self._fatal is not None:
            # The instance is unusable (fenced by a static member with our instance id, …): it
            # would poll on forever without ever getting a message. End here, so the runner
            # fails its health check and exits instead of idling.
            raise KafkaException(self._fatal)
        if num <= 0:
            self._held.extend(good)
            return []
        return good

    def _take_held(self, num: int, paused: set[TopicPartitionKey]) -> list[Message]:
        """Up to ``num`` held messages: they are older than anything still queued, so they go
        first; those of partitions paused now stay held (librdkafka holds back their fetch too)."""
        taken: list[Message] = []
        keep: list[Message] = []
        for message in self._held:
            if len(taken) < num and _key(message) not in paused:
                taken.append(message)
            else:
                keep.append(message)
        self._held = keep
        return taken

    def _on_error(self, error: KafkaError) -> None:
        # Broker connection errors are retried inside librdkafka; a fatal one ends the runner.
        if _is_fatal(error):
            self._fatal = error
        level = logging.ERROR if _is_fatal(error) else logging.WARNING
        _log.log(level, "kafka client error", extra={"kafka_error": error.str(), "code": error.name()})

    def commit(self, positions: dict[TopicPartitionKey, int]) -> dict[TopicPartitionKey, int]:
        """Commit synchronously what is still ours; returns what was committed."""
        consumer = self._require()
        owned = set(_keys(consumer.assignment()))
        mine = {tp: pos for tp, pos in positions.items() if tp in owned}
        if not mine:
            return {}
        return self.commit_owned(consumer, mine)

    @staticmethod
    def commit_owned(
        consumer: Consumer, positions: dict[TopicPartitionKey, int]
    ) -> dict[TopicPartitionKey, int]:
        try:
            consumer.commit(
                offsets=[TopicPartition(t, p, pos) for (t, p), pos in positions.items()], asynchronous=False
            )
        except KafkaException as exc:
            # A rebalance took the partitions meanwhile: the new owner re-reads from the last
            # commit, so this is at worst a re-delivery, never a loss.
            _log.warning("commit failed", extra={"error": str(exc), "positions": str(positions)})
            return {}
        return positions

    def commit_in_callback(self, positions: dict[TopicPartitionKey, int]) -> None:
        """Commit from inside a rebalance callback (already on this thread)."""
        if positions:
            self.commit_owned(self._require(), positions)

    def lag(self, committed: dict[TopicPartitionKey, int]) -> dict[TopicPartitionKey, int]:
        """High watermark minus our committed offset (or the fetch position) per assigned partition."""
        consumer = self._require()
        assignment = consumer.assignment()
        positions = {(tp.topic, tp.partition): tp.offset for tp in consumer.position(assignment)}
        lags: dict[TopicPartitionKey, int] = {}
        for tp in assignment:
            key = (tp.topic, tp.partition)
            try:
                low, high = consumer.get_watermark_offsets(tp, timeout=1.0, cached=False)
            except KafkaException:
                continue
            base = committed.get(key)
            if base is None:
                position = positions.get(key, -1)
                base = position if position is not None and position >= 0 else low
            lags[key] = max(0, high - base)
        return lags

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()  # runs the revoke callback: last commit of finished work
            self._consumer = None

    def shutdown_executor(self) -> None:
        self._executor.shutdown(wait=False)

    def _require(self) -> Consumer:
        if self._consumer is None:
            raise RuntimeError("consumer is not open")
        return self._consumer


def _keys(partitions: list[TopicPartition]) -> list[TopicPartitionKey]:
    return [(tp.topic, tp.partition) for tp in partitions]


def _key(message: Message) -> TopicPartitionKey:
    return (message.topic() or "", int(message.partition() or 0))


def _is_fatal(error: KafkaError) -> bool:
    # A consumed error message for a fatal condition carries code _FATAL but fatal() False.
    return bool(error.fatal()) or error.code() == KafkaError._FATAL
