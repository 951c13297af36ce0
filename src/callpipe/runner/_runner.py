"""StageRunner: consume → process → produce, at-least-once, with bounded concurrency.

Threads: the consumer lives on one dedicated thread (:mod:`._consumer`); the producer's delivery
reports are served by its own poll thread (:class:`callpipe.kafka.EventProducer`); everything
else (stage code, retries, offset bookkeeping) runs on the asyncio loop, so the bookkeeping
needs no locks. Rebalance callbacks arrive on the consumer thread and are handed to the loop
with ``run_coroutine_threadsafe`` while the loop waits on that same consume call.

This module is the core both modes share: intake (how much to take, which partitions to pause),
commits, lag, rebalances, health and shutdown. What happens to a taken message is the mode's
business: :mod:`._message_mode` (one task per message) or :mod:`._batch_mode` (the sink).

An input offset counts as finished only when its output (or its dead-letter record) was
acknowledged by the broker; commits cover only the contiguous finished prefix of each
partition (:mod:`._offsets`). A crash therefore re-delivers, and never skips, a call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

from confluent_kafka import Message

from callpipe.kafka import EventProducer, KafkaClients, consumer_config
from callpipe.observability import HealthServer, runner_metrics
from callpipe.runner._batch_mode import BatchMode
from callpipe.runner._consumer import ConsumerThread
from callpipe.runner._context import Mode, RunContext, Taken
from callpipe.runner._message_mode import MessageMode
from callpipe.runner._offsets import TopicPartitionKey
from callpipe.runner._output import Outputs
from callpipe.runner._retry import RetryPolicy
from callpipe.runner._stage import BatchStage, MessageStage
from callpipe.settings import KafkaSettings, RunnerSettings

__all__ = ["StageRunner"]

_log = logging.getLogger("callpipe.runner")

T = TypeVar("T")

_PAUSE_AFTER_S = 0.5
_LAG_INTERVAL_S = 5.0
# /healthz fails when the loop has not turned for this long (a stage blocked the event loop).
_STALL_S = 60.0


class StageRunner:
    def __init__(
        self,
        stage: MessageStage[Any, Any] | BatchStage[Any],
        *,
        kafka: KafkaSettings,
        runner: RunnerSettings,
        dead_letter_topic: str,
        consumer_overrides: dict[str, Any] | None = None,
        producer_overrides: dict[str, Any] | None = None,
        policy: RetryPolicy | None = None,
        install_signal_handlers: bool = True,
        clients: KafkaClients | None = None,
    ) -> None:
        self.stage = stage
        self._kafka = kafka
        self._settings = runner
        # Named by the caller (TopicSettings.dead_letter): the prefix lives in one place only.
        self.dead_letter_topic = dead_letter_topic
        self._clients = clients or KafkaClients()
        self._consumer_config = consumer_config(kafka, stage.name, consumer_overrides, runner)
        self._producer_overrides = producer_overrides
        self.policy = policy or RetryPolicy.from_settings(runner)
        self._install_signals = install_signal_handlers
        self._metrics = runner_metrics()
        self._batch_mode = isinstance(stage, BatchStage)

        self._ctx = RunContext(stage.name, runner, self.policy, self._metrics)
        self._outputs = Outputs(self._ctx, self.dead_letter_topic, on_producer_failed=self._producer_failed)
        self._failure: BaseException | None = None
        self._mode: Mode = (
            BatchMode(stage, self._ctx, self._outputs)
            if isinstance(stage, BatchStage)
            else MessageMode(stage, self._ctx, self._outputs)
        )
        self._full_since: float | None = None
        self._stop_requested = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._consumer: ConsumerThread | None = None
        self._heartbeat = time.monotonic()
        self._running = False

    # -- public ---------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the runner to drain and exit; safe from any thread and from signal handlers."""
        self._stop_requested = True
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._ctx.stopping.set)

    def health(self) -> tuple[bool, str]:
        if self._consumer is not None and self._consumer.failure is not None:
            return False, f"consumer thread failed: {self._consumer.failure!r}"
        if self._failure is not None:
            return False, f"producer failed: {self._failure}"
        if self._running and time.monotonic() - self._heartbeat > _STALL_S:
            return False, f"event loop stalled for more than {_STALL_S:.0f}s"
        return True, "running" if self._running else "not running"

    @property
    def in_flight(self) -> int:
        return self._mode.in_flight

    async def run(self) -> None:
        """Consume until stop() or SIGTERM/SIGINT, then drain, commit, flush and close."""
        self._loop = asyncio.get_running_loop()
        if self._stop_requested:
            self._ctx.stopping.set()
        self._outputs.producer = EventProducer(
            self._kafka,
            config_overrides=self._producer_overrides,
            stage=self.stage.name,
            producer_factory=self._clients.producer,
        )
        self._consumer = ConsumerThread(
            self._consumer_config,
            self.stage.input_topic,
            on_assign=self._on_assign,
            on_revoke=lambda keys: self._on_revoke(keys, commit=True),
            on_lost=lambda keys: self._on_revoke(keys, commit=False),
            consumer_factory=self._clients.consumer,
        )
        health: HealthServer | None = None
        if self._settings.metrics_port is not None:
            health = HealthServer(
                self.health, host=self._settings.metrics_host, port=self._settings.metrics_port
            ).start()
        signals = self._add_signal_handlers()
        self._running = True
        _log.info(
            "stage runner started",
            extra={"stage": self.stage.name, "topic": self.stage.input_topic, "batch": self._batch_mode},
        )
        try:
            await self._consumer.call(self._consumer.open)
            await self._consume_loop()
        finally:
            self._running = False
            await self._shutdown()
            for sig in signals:
                self._loop.remove_signal_handler(sig)
            if health is not None:
                health.stop()
        if self._failure is not None:
            # Exit with the reason, so the process ends non-zero and its supervisor restarts it.
            raise self._failure

    def _producer_failed(self, failure: BaseException) -> None:
        if self._failure is None:
            self._failure = failure
            _log.critical(
                "producer failed for good; stopping so the process is restarted",
                extra={"stage": self.stage.name, "error": str(failure)},
            )
            self.stop()

    # -- intake ---------------------------------------------------------------------------

    async def _consume_loop(self) -> None:
        assert self._consumer is not None
        next_commit = time.monotonic() + self._settings.commit_interval_s
        next_lag = time.monotonic() + _LAG_INTERVAL_S
        while not self._ctx.stopping.is_set():
            self._heartbeat = time.monotonic()
            num, timeout = await self._mode.intake_room()
            messages = await self._consumer.call(self._consumer.step, self._wanted_paused(), num, timeout)
            for message in messages:
                self._accept(message)
            self._mode.after_intake()
            now = time.monotonic()
            if now >= next_commit:
                await self._commit()
                next_commit = now + self._settings.commit_interval_s
            if now >= next_lag:
                await self._update_lag()
                next_lag = now + _LAG_INTERVAL_S

    def _wanted_paused(self) -> set[TopicPartitionKey]:
        ctx = self._ctx
        assigned = set(ctx.tracker.partitions())
        now = time.monotonic()
        if not self._mode.capacity_full():
            self._full_since = None
        elif self._full_since is None:
            self._full_since = now
        # Pause only when the slots stay full: a resume makes librdkafka re-fetch (measured
        # ~350 ms on the local broker), so pausing on every momentary full house of fast calls
        # would cost more than the prefetch it saves. Until then we simply do not consume.
        full = self._full_since is not None and now - self._full_since >= _PAUSE_AFTER_S
        if full or now < ctx.backpressure_until:
            wanted = assigned
        else:
            wanted = {tp for tp, n in ctx.dependency_waits.items() if n > 0} & assigned
        self._metrics.paused_partitions.labels(self.stage.name).set(len(wanted))
        return wanted

    def _accept(self, message: Message) -> None:
        tp = (message.topic() or "", int(message.partition() or 0))
        offsets = self._ctx.tracker.get(tp)
        if offsets is None:
            return  # revoked meanwhile: the new owner reads it from the last commit
        if not offsets.add(int(message.offset() or 0)):
            return  # already taken in this assignment
        self._mode.accept(Taken(message, offsets, tp))

    # -- offsets, rebalances --------------------------------------------------------------

    async def _commit(self) -> None:
        assert self._consumer is not None
        tracker = self._ctx.tracker
        positions = tracker.to_commit()
        if not positions:
            return
        done = await self._consumer.call(self._consumer.commit, positions)
        tracker.mark_committed(done)
        for (topic, partition), position in done.items():
            self._metrics.committed_offset.labels(self.stage.name, topic, str(partition)).set(position)

    async def _update_lag(self) -> None:
        assert self._consumer is not None
        tracker = self._ctx.tracker
        committed = {
            tp: offsets.last_committed
            for tp in tracker.partitions()
            if (offsets := tracker.get(tp)) is not None and offsets.last_committed is not None
        }
        lags = await self._consumer.call(self._consumer.lag, committed)
        for (topic, partition), lag in lags.items():
            self._metrics.consumer_lag.labels(self.stage.name, topic, str(partition)).set(lag)

    def _on_assign(self, keys: list[TopicPartitionKey]) -> None:
        # Consumer thread: hand over to the loop and wait (the loop is free, it awaits this call).
        self._on_loop(self._assigned(keys))

    async def _assigned(self, keys: list[TopicPartitionKey]) -> None:
        for tp in keys:
            self._ctx.tracker.assign(tp)
        _log.info("partitions assigned", extra={"stage": self.stage.name, "partitions": str(keys)})

    def _on_revoke(self, keys: list[TopicPartitionKey], *, commit: bool) -> None:
        assert self._consumer is not None
        positions = self._on_loop(self._release(keys, commit=commit))
        self._consumer.commit_in_callback(positions)

    async def _release(self, keys: list[TopicPartitionKey], *, commit: bool) -> dict[TopicPartitionKey, int]:
        """Stop taking work from ``keys``, drain their in-flight work (bounded), say what to commit."""
        gone = set(keys)
        await self._drain(self._mode.release(gone))
        positions: dict[TopicPartitionKey, int] = {}
        for tp in gone:
            offsets = self._ctx.tracker.revoke(tp)
            self._ctx.dependency_waits.pop(tp, None)
            if (
                commit
                and offsets is not None
                and offsets.needs_commit()
                and offsets.commit_position is not None
            ):
                positions[tp] = offsets.commit_position
        _log.info(
            "partitions released",
            extra={"stage": self.stage.name, "partitions": str(keys), "commit": str(positions)},
        )
        return positions

    async def _drain(self, tasks: set[asyncio.Task[None]]) -> None:
        if not tasks:
            return
        _done, late = await asyncio.wait(tasks, timeout=self._settings.drain_timeout_s)
        if late:
            # Their input is not committed: it is re-delivered (downstream is idempotent on call id).
            _log.warning("drain timed out; dropping unfinished work", extra={"unfinished": len(late)})
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)

    def _on_loop(self, coro: Coroutine[Any, Any, T]) -> T:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    # -- shutdown -------------------------------------------------------------------------

    async def _shutdown(self) -> None:
        consumer, producer = self._consumer, self._outputs.producer
        # Nothing new starts from here on (also when the loop ended by a consumer failure).
        self._ctx.stopping.set()
        if consumer is not None and consumer.failure is None:
            with contextlib.suppress(Exception):
                await consumer.call(consumer.step, set(self._ctx.tracker.partitions()), 0, 0.0)
        await self._drain(self._mode.shutdown_tasks())
        if consumer is not None:
            if consumer.failure is None:
                try:
                    await self._commit()
                    await consumer.call(consumer.close)
                except Exception:  # noqa: BLE001 - shutdown goes on: the producer must still flush
                    _log.exception("closing the consumer failed", extra={"stage": self.stage.name})
            consumer.shutdown_executor()
        if producer is not None:
            await asyncio.get_running_loop().run_in_executor(None, producer.close, 10.0)
        _log.info("stage runner stopped", extra={"stage": self.stage.name})

    def _add_signal_handlers(self) -> list[signal.Signals]:
        if not self._install_signals or self._loop is None:
            return []
        added: list[signal.Signals] = []
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                self._loop.add_signal_handler(sig, self.stop)
                added.append(sig)
            except (NotImplementedError, RuntimeError, ValueError):
                break  # not the main thread (tests, embedded use): the caller calls stop()
        return added
