"""Batch mode (the sink): one batch written while the next one fills.

At most two batches exist: the one being processed (a task) and the one being filled from the
consumer, each up to ``batch_size`` messages or ``batch_max_wait_ms``. Consuming the next batch
while the current one is written keeps both the writer and the consumer busy (consuming and
writing in turn left each idle half the time); partitions are paused only when the next batch
is full too and the current one is still running, since a resume makes librdkafka re-fetch.
When a batch ends, the next one starts at once if it is due, without waiting for the poll loop.

Poison messages are dead-lettered one by one before the batch runs; ``process_batch`` is retried
as a whole on transient errors (the next batch keeps filling meanwhile, up to its size, then
consumption pauses), and a batch that still fails is split in halves to isolate the record at
fault instead of dead-lettering the whole batch. Offsets are finished only after the batch was
stored, so the commit never runs ahead of the warehouse.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from callpipe.errors import PermanentError
from callpipe.observability import bind_call_id
from callpipe.runner._batch import BatchAccumulator
from callpipe.runner._context import RunContext, Taken, reason
from callpipe.runner._dead_letter import error_class_name
from callpipe.runner._offsets import TopicPartitionKey
from callpipe.runner._output import Outputs
from callpipe.runner._retry import Action
from callpipe.runner._stage import BatchStage

__all__ = ["BatchMode"]

_log = logging.getLogger("callpipe.runner")

_POLL_TIMEOUT_S = 0.05
_IDLE_WAIT_S = 0.2
# Per consume call: each is a round trip to the consumer thread, and a sink batch is thousands.
_MAX_TAKE = 5000


class BatchMode:
    def __init__(self, stage: BatchStage[Any], ctx: RunContext, outputs: Outputs) -> None:
        self._stage = stage
        self._ctx = ctx
        self._outputs = outputs
        # The batch being filled; ``_task`` processes the previous one.
        self._batch: BatchAccumulator[Taken] = BatchAccumulator(
            ctx.settings.batch_size, ctx.settings.batch_max_wait_ms / 1000, partition_of=lambda t: t.tp
        )
        self._task: asyncio.Task[None] | None = None

    @property
    def in_flight(self) -> int:
        return 0  # the in-flight gauge shows the running batch's size instead

    # -- what the core asks ---------------------------------------------------------------

    async def intake_room(self) -> tuple[int, float]:
        room = min(self._batch.room, _MAX_TAKE)
        if room == 0:
            # The next batch is full and waits for the running one: only serve callbacks.
            if self._task is not None:
                await asyncio.wait([self._task], timeout=_IDLE_WAIT_S)
            return 0, 0.0
        left = self._batch.seconds_left() if self._task is None else None
        timeout = _POLL_TIMEOUT_S if left is None else min(_POLL_TIMEOUT_S, left)
        return room, timeout

    def capacity_full(self) -> bool:
        return self._batch.room == 0

    def accept(self, taken: Taken) -> None:
        self._batch.add(taken)

    def after_intake(self) -> None:
        if self._task is None and self._batch.due():
            self._launch(self._batch.take())

    def release(self, gone: set[TopicPartitionKey]) -> set[asyncio.Task[None]]:
        # Revoked partitions' messages waiting in the next batch are dropped (the new owner
        # re-reads them); the running batch may hold some of them: drain it whole.
        self._batch.drop_partitions(gone)
        return {self._task} if self._task is not None else set()

    def shutdown_tasks(self) -> set[asyncio.Task[None]]:
        # Both batches are already in memory: finishing them now (within the drain timeout)
        # saves their re-delivery.
        if self._task is None:
            if len(self._batch):
                self._launch(self._batch.take())
            return {self._task} if self._task is not None else set()
        return {asyncio.create_task(self._finish_both(self._task), name=f"{self._ctx.stage_name}:drain")}

    async def _finish_both(self, running: asyncio.Task[None]) -> None:
        try:
            await asyncio.wait([running])
            if len(self._batch) and self._task is None:
                self._launch(self._batch.take())
            if self._task is not None:
                await asyncio.wait([self._task])
        except asyncio.CancelledError:
            # The drain timed out: cancel the batch too (its offsets stay uncommitted).
            task = self._task
            if task is not None:
                task.cancel()
                await asyncio.wait([task])
            raise

    # -- one batch ------------------------------------------------------------------------

    def _launch(self, items: list[Taken]) -> None:
        ctx = self._ctx
        ctx.metrics.in_flight.labels(ctx.stage_name).set(len(items))
        self._task = asyncio.create_task(self._run_batch(items), name=f"{ctx.stage_name}:batch")
        self._task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        if self._task is task:
            self._task = None
        self._ctx.metrics.in_flight.labels(self._ctx.stage_name).set(0)
        if not task.cancelled() and task.exception() is not None:
            _log.error("batch task failed", exc_info=task.exception(), extra={"stage": self._ctx.stage_name})
        # Start the next batch now rather than at the next poll (up to a poll timeout later).
        # Not while stopping: shutdown decides what still runs (see shutdown_tasks).
        if self._task is None and not self._ctx.stopping.is_set() and self._batch.due():
            self._launch(self._batch.take())

    async def _run_batch(self, items: list[Taken]) -> None:
        began = time.monotonic()
        decoded: list[tuple[Taken, Any]] = []
        for taken in items:
            try:
                decoded.append((taken, self._stage.decode(taken.message.value() or b"")))
            except Exception as exc:  # noqa: BLE001 - any decode failure is that message's alone
                # Decoding is deterministic: retrying cannot help, whatever the class.
                with bind_call_id(taken.call_id):
                    _log.warning("dead-lettering undecodable message", extra={"error": reason(exc)})
                await self._outputs.dead_letter(taken, exc, 1)
                self._ctx.finish(taken, began)
        if decoded:
            await self._process_group(decoded, self._ctx.policy.max_attempts, began)

    async def _process_group(self, group: list[tuple[Taken, Any]], max_attempts: int, began: float) -> None:
        ctx = self._ctx
        attempt = 0
        while True:
            attempt += 1
            try:
                await self._stage.process_batch([event for _, event in group])
            except Exception as exc:  # noqa: BLE001 - the policy decides; a bug must not drop calls
                decision = ctx.policy.decide(exc, attempt, max_attempts)
                name = error_class_name(exc)
                ctx.metrics.failed.labels(ctx.stage_name, name).inc()
                extra = {
                    "stage": ctx.stage_name,
                    "error": reason(exc),
                    "attempt": attempt,
                    "size": len(group),
                }
                if decision.action is not Action.DEAD_LETTER:
                    ctx.metrics.retried.labels(ctx.stage_name, name).inc()
                    _log.warning(
                        f"batch {decision.action.value}: retrying in {decision.delay:.2f}s", extra=extra
                    )
                    # No per-partition pause: the next batch fills up to its size, then the
                    # core pauses every partition until this one is through.
                    await ctx.wait(None, decision.action, decision.delay)
                    if decision.action is Action.BACKPRESSURE:
                        attempt -= 1
                    continue
                if len(group) == 1:
                    taken = group[0][0]
                    with bind_call_id(taken.call_id):
                        _log.warning("dead-lettering message of a failed batch", extra=extra)
                    await self._outputs.dead_letter(taken, exc, attempt)
                    ctx.finish(taken, began)
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
            ctx.metrics.processed.labels(ctx.stage_name).inc(len(group))
            for taken, _ in group:
                ctx.finish(taken, began)
            return
