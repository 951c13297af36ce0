"""StageRunner: consume → process → produce, at-least-once, with bounded concurrency.

Threads: the consumer lives on one dedicated thread (:mod:`._consumer`); the producer's delivery
reports are served by its own poll thread (:class:`callpipe.kafka.EventProducer`); everything
else (stage code, retries, offset bookkeeping) runs on the asyncio loop, so the bookkeeping
needs no locks. Rebalance callbacks arrive on the consumer thread and are handed to the loop
with ``run_coroutine_threadsafe`` while the loop waits on that same consume call.

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
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Message

from callpipe.errors import BackpressureError, PermanentError
from callpipe.kafka import EventProducer, consumer_config
from callpipe.observability import HealthServer, bind_call_id, runner_metrics
from callpipe.runner._batch import BatchAccumulator
from callpipe.runner._consumer import ConsumerThread
from callpipe.runner._dead_letter import dead_letter_headers, error_class_name
from callpipe.runner._offsets import OffsetTracker, PartitionOffsets, TopicPartitionKey
from callpipe.runner._retry import Action, RetryPolicy
from callpipe.runner._stage import BatchStage, MessageStage
from callpipe.settings import KafkaSettings, RunnerSettings

__all__ = ["StageRunner"]

_log = logging.getLogger("callpipe.runner")

# Intake waits are short so stop(), rebalances and commits are served promptly.
_POLL_TIMEOUT_S = 0.05
_IDLE_WAIT_S = 0.2
_PAUSE_AFTER_S = 0.5
_LAG_INTERVAL_S = 5.0
_MAX_TAKE = 500
# /healthz fails when the loop has not turned for this long (a stage blocked the event loop).
_STALL_S = 60.0


@dataclass(slots=True)
class _Taken:
    message: Message
    offsets: PartitionOffsets
    tp: TopicPartitionKey
    holds_slot: bool = False

    @property
    def offset(self) -> int:
        return int(self.message.offset() or 0)

    @property
    def call_id(self) -> str | None:
        key = self.message.key()
        if key is None:
            return None
        return key.decode("utf-8", errors="replace") if isinstance(key, bytes) else str(key)


class StageRunner:
    def __init__(
        self,
        stage: MessageStage[Any, Any] | BatchStage[Any],
        *,
        kafka: KafkaSettings,
        runner: RunnerSettings,
        dead_letter_topic: str | None = None,
        consumer_overrides: dict[str, Any] | None = None,
        producer_overrides: dict[str, Any] | None = None,
        policy: RetryPolicy | None = None,
        install_signal_handlers: bool = True,
    ) -> None:
        self.stage = stage
        self._kafka = kafka
        self._settings = runner
        self.dead_letter_topic = dead_letter_topic or f"callpipe.dlq.{stage.name}"
        self._consumer_config = consumer_config(kafka, stage.name, consumer_overrides)
        self._producer_overrides = producer_overrides
        self.policy = policy or RetryPolicy.from_settings(runner)
        self._install_signals = install_signal_handlers
        self._metrics = runner_metrics()
        self._batch_mode = isinstance(stage, BatchStage)

        self._tracker = OffsetTracker()
        self._tasks: dict[TopicPartitionKey, set[asyncio.Task[None]]] = {}
        self._pending: deque[_Taken] = deque()
        self._in_flight = 0
        # Outputs processed but not yet acknowledged; they hold no processing slot (so the broker
        # round trip overlaps the next calls) but are bounded too, by max_in_flight.
        self._delivering = 0
        self._slot_freed = asyncio.Event()
        self._dependency_waits: Counter[TopicPartitionKey] = Counter()
        self._backpressure_until = 0.0
        self._full_since: float | None = None
        self._batch: BatchAccumulator[_Taken] = BatchAccumulator(
            runner.batch_size, runner.batch_max_wait_ms / 1000, partition_of=lambda t: t.tp
        )
        self._batch_task: asyncio.Task[None] | None = None

        self._stopping = asyncio.Event()
        self._stop_requested = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._consumer: ConsumerThread | None = None
        self._producer: EventProducer | None = None
        self._heartbeat = time.monotonic()
        self._running = False

    # -- public ---------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the runner to drain and exit; safe from any thread and from signal handlers."""
        self._stop_requested = True
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stopping.set)

    def health(self) -> tuple[bool, str]:
        if self._consumer is not None and self._consumer.failure is not None:
            return False, f"consumer thread failed: {self._consumer.failure!r}"
        if self._running and time.monotonic() - self._heartbeat > _STALL_S:
            return False, f"event loop stalled for more than {_STALL_S:.0f}s"
        return True, "running" if self._running else "not running"

    @property
    def in_flight(self) -> int:
        return self._in_flight

    async def run(self) -> None:
        """Consume until stop() or SIGTERM/SIGINT, then drain, commit, flush and close."""
        self._loop = asyncio.get_running_loop()
        if self._stop_requested:
            self._stopping.set()
        self._producer = EventProducer(self._kafka, config_overrides=self._producer_overrides)
        self._consumer = ConsumerThread(
            self._consumer_config,
            self.stage.input_topic,
            on_assign=self._on_assign,
            on_revoke=lambda keys: self._on_revoke(keys, commit=True),
            on_lost=lambda keys: self._on_revoke(keys, commit=False),
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

    # -- the loop -------------------------------------------------------------------------

    async def _consume_loop(self) -> None:
        assert self._consumer is not None
        next_commit = time.monotonic() + self._settings.commit_interval_s
        next_lag = time.monotonic() + _LAG_INTERVAL_S
        while not self._stopping.is_set():
            self._heartbeat = time.monotonic()
            num, timeout = await self._intake_room()
            messages = await self._consumer.call(self._consumer.step, self._wanted_paused(), num, timeout)
            for message in messages:
                self._accept(message)
            if self._batch_mode:
                self._maybe_start_batch()
            now = time.monotonic()
            if now >= next_commit:
                await self._commit()
                next_commit = now + self._settings.commit_interval_s
            if now >= next_lag:
                await self._update_lag()
                next_lag = now + _LAG_INTERVAL_S

    async def _intake_room(self) -> tuple[int, float]:
        """How many messages to take now and how long consume may block."""
        if self._batch_mode:
            if self._batch_task is not None:
                await asyncio.wait([self._batch_task], timeout=_IDLE_WAIT_S)
                return 0, 0.0
            left = self._batch.seconds_left()
            timeout = _POLL_TIMEOUT_S if left is None else min(_POLL_TIMEOUT_S, left)
            return min(self._batch.room, _MAX_TAKE), timeout
        free = self._free_slots()
        if free <= 0:
            self._slot_freed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._slot_freed.wait(), _IDLE_WAIT_S)
            free = self._free_slots()
            if free <= 0:
                return 0, 0.0
        return min(free, _MAX_TAKE), _POLL_TIMEOUT_S

    def _free_slots(self) -> int:
        limit = self._settings.max_in_flight
        return min(limit - self._in_flight - len(self._pending), limit - self._delivering)

    def _capacity_full(self) -> bool:
        if self._batch_mode:
            return self._batch_task is not None or self._batch.room == 0
        return self._free_slots() <= 0

    def _wanted_paused(self) -> set[TopicPartitionKey]:
        assigned = set(self._tracker.partitions())
        now = time.monotonic()
        if not self._capacity_full():
            self._full_since = None
        elif self._full_since is None:
            self._full_since = now
        # Pause only when the slots stay full: a resume makes librdkafka re-fetch (measured
        # ~350 ms on the local broker), so pausing on every momentary full house of fast calls
        # would cost more than the prefetch it saves. Until then we simply do not consume.
        full = self._full_since is not None and now - self._full_since >= _PAUSE_AFTER_S
        if full or now < self._backpressure_until:
            wanted = assigned
        else:
            wanted = {tp for tp, n in self._dependency_waits.items() if n > 0} & assigned
        self._metrics.paused_partitions.labels(self.stage.name).set(len(wanted))
        return wanted

    def _accept(self, message: Message) -> None:
        tp = (message.topic() or "", int(message.partition() or 0))
        offsets = self._tracker.get(tp)
        if offsets is None:
            return  # revoked meanwhile: the new owner reads it from the last commit
        if not offsets.add(int(message.offset() or 0)):
            return  # already taken in this assignment
        taken = _Taken(message, offsets, tp)
        if self._batch_mode:
            self._batch.add(taken)
        elif (
            self._in_flight < self._settings.max_in_flight and self._delivering < self._settings.max_in_flight
        ):
            self._start(taken)
        else:
            self._pending.append(taken)

    # -- message mode ---------------------------------------------------------------------

    def _start(self, taken: _Taken) -> None:
        self._in_flight += 1
        taken.holds_slot = True
        self._metrics.in_flight.labels(self.stage.name).inc()
        task = asyncio.create_task(
            self._run_message(taken), name=f"{self.stage.name}:{taken.tp}:{taken.offset}"
        )
        self._tasks.setdefault(taken.tp, set()).add(task)
        task.add_done_callback(lambda t: self._message_done(taken, t))

    def _release_slot(self, taken: _Taken) -> None:
        if not taken.holds_slot:
            return
        taken.holds_slot = False
        self._in_flight -= 1
        self._metrics.in_flight.labels(self.stage.name).dec()
        self._slot_freed.set()
        self._start_pending()

    def _start_pending(self) -> None:
        limit = self._settings.max_in_flight
        while self._pending and self._in_flight < limit and self._delivering < limit:
            if self._stopping.is_set():
                return
            self._start(self._pending.popleft())

    def _message_done(self, taken: _Taken, task: asyncio.Task[None]) -> None:
        self._release_slot(taken)
        tasks = self._tasks.get(taken.tp)
        if tasks is not None:
            tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # A bug in the runner itself: the offset stays unfinished, so nothing past it is
            # committed and the message is re-delivered after a restart.
            _log.error("runner task failed", exc_info=task.exception(), extra={"stage": self.stage.name})
        self._slot_freed.set()
        while (
            self._pending and self._in_flight < self._settings.max_in_flight and not self._stopping.is_set()
        ):
            self._start(self._pending.popleft())

    async def _run_message(self, taken: _Taken) -> None:
        assert isinstance(self.stage, MessageStage)
        stage = self.stage
        began = time.monotonic()
        with bind_call_id(taken.call_id):
            attempt = 0
            while True:
                attempt += 1
                try:
                    event = stage.decode(taken.message.value() or b"")
                    result = await stage.process(event)
                    output: tuple[str, str, bytes] | None = None
                    if result is not None and stage.output_topic is not None:
                        assert stage.key is not None
                        assert stage.encode is not None
                        output = (stage.output_topic, stage.key(result), stage.encode(result))
                    break
                except Exception as exc:  # noqa: BLE001 - the policy decides; a bug must not drop a call
                    if not await self._after_failure(taken, exc, attempt):
                        return self._finish(taken, began)
                    if isinstance(exc, BackpressureError):
                        attempt -= 1  # the stage was full, this attempt did not fail
            if output is not None:
                topic, key, value = output
                self._delivering += 1
                self._release_slot(taken)
                try:
                    await self._deliver(taken, topic, key, value, None)
                except PermanentError as exc:  # the broker can never take this output (too large)
                    await self._dead_letter(taken, exc, attempt)
                    return self._finish(taken, began)
                finally:
                    self._delivering -= 1
                    self._slot_freed.set()
                    self._start_pending()
            self._metrics.processed.labels(self.stage.name).inc()
            self._finish(taken, began)

    def _finish(self, taken: _Taken, began: float) -> None:
        taken.offsets.finish(taken.offset)
        self._metrics.processing_seconds.labels(self.stage.name).observe(time.monotonic() - began)

    async def _after_failure(
        self, taken: _Taken, exc: Exception, attempt: int, max_attempts: int | None = None
    ) -> bool:
        """Apply the retry policy; False when the message was dead-lettered (finished)."""
        decision = self.policy.decide(exc, attempt, max_attempts)
        name = error_class_name(exc)
        self._metrics.failed.labels(self.stage.name, name).inc()
        extra = {"stage": self.stage.name, "error": _reason(exc), "attempt": attempt, "offset": taken.offset}
        if decision.action is Action.DEAD_LETTER:
            _log.warning("dead-lettering message", extra=extra)
            await self._dead_letter(taken, exc, attempt)
            return False
        self._metrics.retried.labels(self.stage.name, name).inc()
        _log.warning(f"{decision.action.value}: retrying in {decision.delay:.2f}s", extra=extra)
        await self._wait(taken.tp, decision.action, decision.delay)
        return True

    async def _wait(self, tp: TopicPartitionKey | None, action: Action, delay: float) -> None:
        if action is Action.WAIT_DEPENDENCY and tp is not None:
            # Pause the partition meanwhile: nothing past this message is taken or committed.
            self._dependency_waits[tp] += 1
            try:
                await asyncio.sleep(delay)
            finally:
                self._dependency_waits[tp] -= 1
                if self._dependency_waits[tp] <= 0:
                    del self._dependency_waits[tp]
            return
        if action is Action.BACKPRESSURE:
            self._backpressure_until = max(self._backpressure_until, time.monotonic() + delay)
        await asyncio.sleep(delay)

    # -- output and dead letters ----------------------------------------------------------

    async def _deliver(
        self,
        taken: _Taken,
        topic: str,
        key: str | bytes | None,
        value: bytes,
        headers: list[tuple[str, str | bytes | None]] | None,
    ) -> None:
        """Send and wait for the ack; retried forever while the broker is unavailable.

        Only the send is retried: the (possibly expensive) processing is not repeated.
        """
        assert self._producer is not None
        attempt = 0
        while True:
            attempt += 1
            try:
                await self._producer.send(topic, key, value, headers)
                return
            except PermanentError:
                raise
            except Exception as exc:  # noqa: BLE001 - anything but a permanent refusal: keep the record
                decision = self.policy.decide(exc, attempt, max_attempts=1 << 30)
                _log.warning(
                    "output not acknowledged; retrying",
                    extra={"stage": self.stage.name, "topic": topic, "error": _reason(exc)},
                )
                await self._wait(taken.tp, Action.WAIT_DEPENDENCY, max(decision.delay, self.policy.initial_s))

    async def _dead_letter(self, taken: _Taken, exc: BaseException, attempts: int) -> None:
        message = taken.message
        headers = dead_letter_headers(
            message.headers(),
            error=exc,
            stage=self.stage.name,
            topic=taken.tp[0],
            partition=taken.tp[1],
            offset=taken.offset,
            attempts=attempts,
        )
        while True:
            try:
                await self._deliver(
                    taken, self.dead_letter_topic, message.key(), message.value() or b"", list(headers)
                )
                break
            except PermanentError as dlq_exc:
                # Not even the dead-letter topic takes it: keep the partition blocked (nothing is
                # committed past it) and shout, rather than drop a call.
                _log.critical(
                    "dead-letter topic refused the record",
                    extra={"stage": self.stage.name, "error": _reason(dlq_exc), "offset": taken.offset},
                )
                await asyncio.sleep(self.policy.max_s)
        self._metrics.dead_lettered.labels(self.stage.name, error_class_name(exc)).inc()

    # -- batch mode -----------------------------------------------------------------------

    def _maybe_start_batch(self) -> None:
        if self._batch_task is None and self._batch.due():
            items = self._batch.take()
            self._metrics.in_flight.labels(self.stage.name).set(len(items))
            self._batch_task = asyncio.create_task(self._run_batch(items), name=f"{self.stage.name}:batch")
            self._batch_task.add_done_callback(self._batch_done)

    def _batch_done(self, task: asyncio.Task[None]) -> None:
        self._batch_task = None
        self._metrics.in_flight.labels(self.stage.name).set(0)
        if not task.cancelled() and task.exception() is not None:
            _log.error("batch task failed", exc_info=task.exception(), extra={"stage": self.stage.name})

    async def _run_batch(self, items: list[_Taken]) -> None:
        assert isinstance(self.stage, BatchStage)
        began = time.monotonic()
        decoded: list[tuple[_Taken, Any]] = []
        for taken in items:
            try:
                decoded.append((taken, self.stage.decode(taken.message.value() or b"")))
            except Exception as exc:  # noqa: BLE001 - any decode failure is that message's alone
                # Decoding is deterministic: retrying cannot help, whatever the class.
                with bind_call_id(taken.call_id):
                    _log.warning("dead-lettering undecodable message", extra={"error": _reason(exc)})
                await self._dead_letter(taken, exc, 1)
                self._finish(taken, began)
        if decoded:
            await self._process_group(decoded, self.policy.max_attempts, began)

    async def _process_group(self, group: list[tuple[_Taken, Any]], max_attempts: int, began: float) -> None:
        assert isinstance(self.stage, BatchStage)
        attempt = 0
        while True:
            attempt += 1
            try:
                await self.stage.process_batch([event for _, event in group])
            except Exception as exc:  # noqa: BLE001 - the policy decides; a bug must not drop calls
                decision = self.policy.decide(exc, attempt, max_attempts)
                name = error_class_name(exc)
                self._metrics.failed.labels(self.stage.name, name).inc()
                extra = {
                    "stage": self.stage.name,
                    "error": _reason(exc),
                    "attempt": attempt,
                    "size": len(group),
                }
                if decision.action is not Action.DEAD_LETTER:
                    self._metrics.retried.labels(self.stage.name, name).inc()
                    _log.warning(
                        f"batch {decision.action.value}: retrying in {decision.delay:.2f}s", extra=extra
                    )
                    # Every partition is paused while a batch runs, so no per-partition pause.
                    await self._wait(None, decision.action, decision.delay)
                    if decision.action is Action.BACKPRESSURE:
                        attempt -= 1
                    continue
                if len(group) == 1:
                    taken = group[0][0]
                    with bind_call_id(taken.call_id):
                        _log.warning("dead-lettering message of a failed batch", extra=extra)
                    await self._dead_letter(taken, exc, attempt)
                    self._finish(taken, began)
                    return
                # Isolate the record(s) at fault instead of dead-lettering the whole batch. After
                # exhausted transient retries the halves get one try each (the batch already had
                # its backoff); after a permanent error they get the full attempts.
                child_attempts = max_attempts if isinstance(exc, PermanentError) else 1
                _log.warning("splitting failed batch", extra=extra)
                half = len(group) // 2
                await self._process_group(group[:half], child_attempts, began)
                await self._process_group(group[half:], child_attempts, began)
                return
            self._metrics.processed.labels(self.stage.name).inc(len(group))
            for taken, _ in group:
                self._finish(taken, began)
            return

    # -- offsets, rebalances, shutdown ----------------------------------------------------

    async def _commit(self) -> None:
        assert self._consumer is not None
        positions = self._tracker.to_commit()
        if not positions:
            return
        done = await self._consumer.call(self._consumer.commit, positions)
        self._tracker.mark_committed(done)
        for (topic, partition), position in done.items():
            self._metrics.committed_offset.labels(self.stage.name, topic, str(partition)).set(position)

    async def _update_lag(self) -> None:
        assert self._consumer is not None
        committed = {
            tp: offsets.last_committed
            for tp in self._tracker.partitions()
            if (offsets := self._tracker.get(tp)) is not None and offsets.last_committed is not None
        }
        lags = await self._consumer.call(self._consumer.lag, committed)
        for (topic, partition), lag in lags.items():
            self._metrics.consumer_lag.labels(self.stage.name, topic, str(partition)).set(lag)

    def _on_assign(self, keys: list[TopicPartitionKey]) -> None:
        # Consumer thread: hand over to the loop and wait (the loop is free, it awaits this call).
        self._on_loop(self._assigned(keys))

    async def _assigned(self, keys: list[TopicPartitionKey]) -> None:
        for tp in keys:
            self._tracker.assign(tp)
        _log.info("partitions assigned", extra={"stage": self.stage.name, "partitions": str(keys)})

    def _on_revoke(self, keys: list[TopicPartitionKey], *, commit: bool) -> None:
        assert self._consumer is not None
        positions = self._on_loop(self._release(keys, commit=commit))
        self._consumer.commit_in_callback(positions)

    async def _release(self, keys: list[TopicPartitionKey], *, commit: bool) -> dict[TopicPartitionKey, int]:
        """Stop taking work from ``keys``, drain their in-flight work (bounded), say what to commit."""
        gone = set(keys)
        self._pending = deque(t for t in self._pending if t.tp not in gone)
        self._batch.drop_partitions(gone)
        tasks: set[asyncio.Task[None]] = set()
        for tp in gone:
            tasks |= self._tasks.get(tp, set())
        if self._batch_task is not None:
            tasks.add(self._batch_task)
        await self._drain(tasks)
        positions: dict[TopicPartitionKey, int] = {}
        for tp in gone:
            offsets = self._tracker.revoke(tp)
            self._dependency_waits.pop(tp, None)
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

    def _on_loop(self, coro: Any) -> Any:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    async def _shutdown(self) -> None:
        consumer, producer = self._consumer, self._producer
        self._pending.clear()  # never started: re-delivered after the restart
        if consumer is not None and consumer.failure is None:
            with contextlib.suppress(Exception):
                await consumer.call(consumer.step, set(self._tracker.partitions()), 0, 0.0)
        if self._batch_mode and len(self._batch) and self._batch_task is None:
            # Already in memory: finishing it now saves a re-delivery.
            self._batch_task = asyncio.create_task(self._run_batch(self._batch.take()))
        tasks = {t for ts in self._tasks.values() for t in ts}
        if self._batch_task is not None:
            tasks.add(self._batch_task)
        await self._drain(tasks)
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


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    return reason if isinstance(reason, str) else f"{type(exc).__name__}: {exc}"
