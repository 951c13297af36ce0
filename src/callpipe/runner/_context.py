"""State shared by the runner's core and its two modes (message, batch), all on the event loop.

:class:`Taken` is one consumed message on its way to being finished; :class:`RunContext` holds what
both modes and the core touch: the offset tracker, the pauses asked for by failures (a dependency
down, backpressure), the retry policy and the metrics. Everything here runs on the event loop
thread, so none of it needs a lock.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass
from typing import Protocol

from confluent_kafka import Message

from callpipe.observability import RunnerMetrics
from callpipe.runner._offsets import OffsetTracker, PartitionOffsets, TopicPartitionKey
from callpipe.runner._retry import Action, RetryPolicy
from callpipe.settings import RunnerSettings

__all__ = ["Mode", "RunContext", "Taken", "reason"]


@dataclass(slots=True)
class Taken:
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


class RunContext:
    def __init__(
        self, stage_name: str, settings: RunnerSettings, policy: RetryPolicy, metrics: RunnerMetrics
    ) -> None:
        self.stage_name = stage_name
        self.settings = settings
        self.policy = policy
        self.metrics = metrics
        self.tracker = OffsetTracker()
        self.stopping = asyncio.Event()
        # Partitions whose message waits for a dependency: paused, nothing past it is committed.
        self.dependency_waits: Counter[TopicPartitionKey] = Counter()
        self.backpressure_until = 0.0
        # Looked up once: labels() costs about a microsecond, paid per message by the sink.
        self._processing_seconds = metrics.processing_seconds.labels(stage_name)

    def finish(self, taken: Taken, began: float) -> None:
        """The message's output (or dead letter) was acknowledged: its offset may be committed."""
        taken.offsets.finish(taken.offset)
        self._processing_seconds.observe(time.monotonic() - began)

    async def wait(self, tp: TopicPartitionKey | None, action: Action, delay: float) -> None:
        if action is Action.WAIT_DEPENDENCY and tp is not None:
            # Pause the partition meanwhile: nothing past this message is taken or committed.
            self.dependency_waits[tp] += 1
            try:
                await asyncio.sleep(delay)
            finally:
                self.dependency_waits[tp] -= 1
                if self.dependency_waits[tp] <= 0:
                    del self.dependency_waits[tp]
            return
        if action is Action.BACKPRESSURE:
            self.backpressure_until = max(self.backpressure_until, time.monotonic() + delay)
        await asyncio.sleep(delay)


class Mode(Protocol):
    """What the core asks of message mode and batch mode."""

    @property
    def in_flight(self) -> int: ...

    async def intake_room(self) -> tuple[int, float]:
        """How many messages to take now and how long consume may block."""
        ...

    def capacity_full(self) -> bool: ...

    def accept(self, taken: Taken) -> None: ...

    def after_intake(self) -> None: ...

    def release(self, gone: set[TopicPartitionKey]) -> set[asyncio.Task[None]]:
        """Forget queued work of revoked partitions; the running tasks to drain for them."""
        ...

    def shutdown_tasks(self) -> set[asyncio.Task[None]]:
        """Stop starting work; every task still to drain before the final commit."""
        ...


def reason(exc: BaseException) -> str:
    text = getattr(exc, "reason", None)
    return text if isinstance(text, str) else f"{type(exc).__name__}: {exc}"
