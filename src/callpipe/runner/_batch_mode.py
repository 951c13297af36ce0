"""Batch mode (the sink): one batch at a time, up to ``batch_size`` or ``batch_max_wait_ms``.

Poison messages are dead-lettered one by one before the batch runs; ``process_batch`` is retried
as a whole on transient errors (every partition is paused while a batch runs, since the core takes
nothing new meanwhile), and a batch that still fails is split in halves to isolate the record at
fault instead of dead-lettering the whole batch.
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
_MAX_TAKE = 500


class BatchMode:
    def __init__(self, stage: BatchStage[Any], ctx: RunContext, outputs: Outputs) -> None:
        self._stage = stage
        self._ctx = ctx
        self._outputs = outputs
        self._batch: BatchAccumulator[Taken] = BatchAccumulator(
            ctx.settings.batch_size, ctx.settings.batch_max_wait_ms / 1000, partition_of=lambda t: t.tp
        )
        self._task: asyncio.Task[None] | None = None

    @property
    def in_flight(self) -> int:
        return 0  # the in-flight gauge shows the running batch's size instead

    # -- what the core asks ---------------------------------------------------------------

    async def intake_room(self) -> tuple[int, float]:
        if self._task is not None:
            await asyncio.wait([self._task], timeout=_IDLE_WAIT_S)
            return 0, 0.0
        left = self._batch.seconds_left()
        timeout = _POLL_TIMEOUT_S if left is None else min(_POLL_TIMEOUT_S, left)
        return min(self._batch.room, _MAX_TAKE), timeout

    def capacity_full(self) -> bool:
        return self._task is not None or self._batch.room == 0

    def accept(self, taken: Taken) -> None:
        self._batch.add(taken)

    def after_intake(self) -> None:
        if self._task is None and self._batch.due():
            self._launch(self._batch.take())

    def release(self, gone: set[TopicPartitionKey]) -> set[asyncio.Task[None]]:
        self._batch.drop_partitions(gone)
        # The running batch may hold messages of the revoked partitions: drain it whole.
        return {self._task} if self._task is not None else set()

    def shutdown_tasks(self) -> set[asyncio.Task[None]]:
        if len(self._batch) and self._task is None:
            # Already in memory: finishing it now saves a re-delivery.
            self._launch(self._batch.take())
        return {self._task} if self._task is not None else set()

    # -- one batch ------------------------------------------------------------------------

    def _launch(self, items: list[Taken]) -> None:
        ctx = self._ctx
        ctx.metrics.in_flight.labels(ctx.stage_name).set(len(items))
        self._task = asyncio.create_task(self._run_batch(items), name=f"{ctx.stage_name}:batch")
        self._task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._task = None
        self._ctx.metrics.in_flight.labels(self._ctx.stage_name).set(0)
        if not task.cancelled() and task.exception() is not None:
            _log.error("batch task failed", exc_info=task.exception(), extra={"stage": self._ctx.stage_name})

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
                    # Every partition is paused while a batch runs, so no per-partition pause.
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
