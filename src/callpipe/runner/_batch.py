"""Batch mode (the sink): accumulate up to ``batch_size`` messages or ``batch_max_wait_ms``.

:class:`BatchAccumulator` is the pure part (what is in the batch, when it is due); batch mode
(:mod:`._batch_mode`) fills one while it processes the previous one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Generic, TypeVar

from callpipe.runner._offsets import TopicPartitionKey

__all__ = ["BatchAccumulator"]

T = TypeVar("T")


class BatchAccumulator(Generic[T]):
    def __init__(
        self,
        batch_size: int,
        max_wait_s: float,
        *,
        partition_of: Callable[[T], TopicPartitionKey],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.batch_size = batch_size
        self.max_wait_s = max_wait_s
        self._partition_of = partition_of
        self._clock = clock
        self._items: list[T] = []
        self._started: float | None = None

    def __len__(self) -> int:
        return len(self._items)

    @property
    def room(self) -> int:
        return max(0, self.batch_size - len(self._items))

    def add(self, item: T) -> None:
        if not self._items:
            # The wait is counted from the first message: an idle stage never flushes empty batches.
            self._started = self._clock()
        self._items.append(item)

    def seconds_left(self) -> float | None:
        """Time until the batch is due by age; None while empty."""
        if self._started is None:
            return None
        return max(0.0, self._started + self.max_wait_s - self._clock())

    def due(self) -> bool:
        if not self._items:
            return False
        left = self.seconds_left()
        return len(self._items) >= self.batch_size or (left is not None and left <= 0.0)

    def take(self) -> list[T]:
        items, self._items, self._started = self._items, [], None
        return items

    def drop_partitions(self, partitions: set[TopicPartitionKey]) -> int:
        """Forget buffered messages of revoked partitions (their new owner re-reads them)."""
        kept = [item for item in self._items if self._partition_of(item) not in partitions]
        dropped = len(self._items) - len(kept)
        self._items = kept
        if not kept:
            self._started = None
        return dropped
