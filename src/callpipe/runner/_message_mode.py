"""Message mode: each message is its own asyncio task, up to ``max_in_flight`` at once.

A task holds a processing slot while the stage works; once its output is handed to the producer
it gives the slot back (so the broker round trip overlaps the next calls) but still counts as
"delivering", which is bounded by ``max_in_flight`` too. Messages taken while every slot is busy
wait in ``pending`` (at most ``max_in_flight`` of them) in the order they were received.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from typing import Any

from callpipe.errors import BackpressureError, PermanentError
from callpipe.observability import bind_call_id
from callpipe.runner._context import RunContext, Taken, reason
from callpipe.runner._dead_letter import error_class_name
from callpipe.runner._offsets import TopicPartitionKey
from callpipe.runner._output import Outputs
from callpipe.runner._retry import Action
from callpipe.runner._stage import MessageStage

__all__ = ["MessageMode"]

_log = logging.getLogger("callpipe.runner")

# Intake waits are short so stop(), rebalances and commits are served promptly.
_POLL_TIMEOUT_S = 0.05
_IDLE_WAIT_S = 0.2
_MAX_TAKE = 500


class MessageMode:
    def __init__(self, stage: MessageStage[Any, Any], ctx: RunContext, outputs: Outputs) -> None:
        self._stage = stage
        self._ctx = ctx
        self._outputs = outputs
        self._limit = ctx.settings.max_in_flight
        # Messages taken ahead of a free slot, so a finished call's slot is refilled at once from
        # memory instead of after a hop to the consumer thread (which costs milliseconds when the
        # cores are busy). They are tracked as received, so nothing past them is committed, and
        # a revoke or shutdown drops them for re-delivery like any unstarted message.
        self._prefetch = self._limit
        self._tasks: dict[TopicPartitionKey, set[asyncio.Task[None]]] = {}
        self._pending: deque[Taken] = deque()
        self._in_flight = 0
        # Outputs processed but not yet acknowledged; they hold no processing slot but are bounded.
        self._delivering = 0
        self._slot_freed = asyncio.Event()

    @property
    def in_flight(self) -> int:
        return self._in_flight

    # -- what the core asks ---------------------------------------------------------------

    async def intake_room(self) -> tuple[int, float]:
        free = self._free_slots()
        if free <= 0:
            self._slot_freed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._slot_freed.wait(), _IDLE_WAIT_S)
            free = self._free_slots()
            if free <= 0:
                return 0, 0.0
        return min(free, _MAX_TAKE), _POLL_TIMEOUT_S

    def capacity_full(self) -> bool:
        return self._free_slots() <= 0

    def accept(self, taken: Taken) -> None:
        if self._in_flight < self._limit and self._delivering < self._limit:
            self._start(taken)
        else:
            self._pending.append(taken)

    def after_intake(self) -> None:
        return None

    def release(self, gone: set[TopicPartitionKey]) -> set[asyncio.Task[None]]:
        self._pending = deque(t for t in self._pending if t.tp not in gone)
        tasks: set[asyncio.Task[None]] = set()
        for tp in gone:
            tasks |= self._tasks.get(tp, set())
        return tasks

    def shutdown_tasks(self) -> set[asyncio.Task[None]]:
        self._pending.clear()  # never started: re-delivered after the restart
        return {t for ts in self._tasks.values() for t in ts}

    # -- slots ----------------------------------------------------------------------------

    def _free_slots(self) -> int:
        taken = self._in_flight + len(self._pending)
        return min(self._limit + self._prefetch - taken, self._limit - self._delivering)

    def _start(self, taken: Taken) -> None:
        self._in_flight += 1
        taken.holds_slot = True
        self._ctx.metrics.in_flight.labels(self._ctx.stage_name).inc()
        task = asyncio.create_task(
            self._run_message(taken), name=f"{self._ctx.stage_name}:{taken.tp}:{taken.offset}"
        )
        self._tasks.setdefault(taken.tp, set()).add(task)
        task.add_done_callback(lambda t: self._message_done(taken, t))

    def _release_slot(self, taken: Taken) -> None:
        if not taken.holds_slot:
            return
        taken.holds_slot = False
        self._in_flight -= 1
        self._ctx.metrics.in_flight.labels(self._ctx.stage_name).dec()
        self._slot_freed.set()
        self._start_pending()

    def _start_pending(self) -> None:
        while self._pending and self._in_flight < self._limit and self._delivering < self._limit:
            if self._ctx.stopping.is_set():
                return
            self._start(self._pending.popleft())

    def _message_done(self, taken: Taken, task: asyncio.Task[None]) -> None:
        self._release_slot(taken)
        tasks = self._tasks.get(taken.tp)
        if tasks is not None:
            tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # A bug in the runner itself: the offset stays unfinished, so nothing past it is
            # committed and the message is re-delivered after a restart.
            _log.error("runner task failed", exc_info=task.exception(), extra={"stage": self._ctx.stage_name})
        self._slot_freed.set()
        while self._pending and self._in_flight < self._limit and not self._ctx.stopping.is_set():
            self._start(self._pending.popleft())

    # -- one message ----------------------------------------------------------------------

    async def _run_message(self, taken: Taken) -> None:
        stage, ctx = self._stage, self._ctx
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
                        return ctx.finish(taken, began)
                    if isinstance(exc, BackpressureError):
                        attempt -= 1  # the stage was full, this attempt did not fail
            if output is not None:
                topic, key, value = output
                self._delivering += 1
                self._release_slot(taken)
                try:
                    await self._outputs.deliver(taken, topic, key, value, None)
                except PermanentError as exc:  # the broker can never take this output (too large)
                    await self._outputs.dead_letter(taken, exc, attempt)
                    return ctx.finish(taken, began)
                finally:
                    self._delivering -= 1
                    self._slot_freed.set()
                    self._start_pending()
            ctx.metrics.processed.labels(ctx.stage_name).inc()
            ctx.finish(taken, began)

    async def _after_failure(self, taken: Taken, exc: Exception, attempt: int) -> bool:
        """Apply the retry policy; False when the message was dead-lettered (finished)."""
        ctx = self._ctx
        decision = ctx.policy.decide(exc, attempt)
        name = error_class_name(exc)
        ctx.metrics.failed.labels(ctx.stage_name, name).inc()
        extra = {"stage": ctx.stage_name, "error": reason(exc), "attempt": attempt, "offset": taken.offset}
        if decision.action is Action.DEAD_LETTER:
            _log.warning("dead-lettering message", extra=extra)
            await self._outputs.dead_letter(taken, exc, attempt)
            return False
        ctx.metrics.retried.labels(ctx.stage_name, name).inc()
        _log.warning(f"{decision.action.value}: retrying in {decision.delay:.2f}s", extra=extra)
        await ctx.wait(taken.tp, decision.action, decision.delay)
        return True
