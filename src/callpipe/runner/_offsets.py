"""Which offsets may be committed: the highest CONTIGUOUS finished offset of each partition.

Messages finish out of order (a short call overtakes a long one). Committing the highest finished
offset would skip the long call if we crashed before it finished; so a partition's commit position
only advances over a prefix of received offsets that are all finished. "Contiguous" is in the
order messages were received, not offset arithmetic: compaction and transaction markers leave
gaps in offset numbers.
"""

from __future__ import annotations

from collections import deque

__all__ = ["OffsetTracker", "PartitionOffsets", "TopicPartitionKey"]

TopicPartitionKey = tuple[str, int]


class PartitionOffsets:
    """Received and finished offsets of one partition for one assignment."""

    def __init__(self) -> None:
        self._received: deque[int] = deque()
        self._finished: set[int] = set()
        # Next offset to consume, as Kafka commits it (last contiguous finished + 1); None = nothing yet.
        self._commit_position: int | None = None
        self.last_committed: int | None = None
        self._newest: int | None = None

    def add(self, offset: int) -> bool:
        """Track a received offset; False for one at or below the last received (a re-delivery
        within this assignment: it is already in flight or finished, so it must not run twice
        nor be tracked twice)."""
        if self._newest is not None and offset <= self._newest:
            return False
        self._newest = offset
        self._received.append(offset)
        return True

    def finish(self, offset: int) -> None:
        """Mark ``offset`` finished (output or dead-letter record acknowledged)."""
        self._finished.add(offset)
        received = self._received
        while received and received[0] in self._finished:
            done = received.popleft()
            self._finished.discard(done)
            self._commit_position = done + 1

    @property
    def commit_position(self) -> int | None:
        """The offset to commit now (the next one to read), or None if nothing finished yet."""
        return self._commit_position

    def needs_commit(self) -> bool:
        return self._commit_position is not None and self._commit_position != self.last_committed

    @property
    def outstanding(self) -> int:
        """Messages received but not yet finished."""
        return len(self._received)


class OffsetTracker:
    """One :class:`PartitionOffsets` per assigned partition, replaced on every new assignment."""

    def __init__(self) -> None:
        self._partitions: dict[TopicPartitionKey, PartitionOffsets] = {}

    def assign(self, tp: TopicPartitionKey) -> PartitionOffsets:
        # A fresh tracker: work of an earlier assignment that finishes late marks its own
        # (discarded) tracker and cannot move this one.
        offsets = PartitionOffsets()
        self._partitions[tp] = offsets
        return offsets

    def revoke(self, tp: TopicPartitionKey) -> PartitionOffsets | None:
        return self._partitions.pop(tp, None)

    def get(self, tp: TopicPartitionKey) -> PartitionOffsets | None:
        return self._partitions.get(tp)

    def to_commit(self) -> dict[TopicPartitionKey, int]:
        """Positions that moved since the last commit."""
        return {
            tp: offsets.commit_position
            for tp, offsets in self._partitions.items()
            if offsets.needs_commit() and offsets.commit_position is not None
        }

    def mark_committed(self, positions: dict[TopicPartitionKey, int]) -> None:
        for tp, position in positions.items():
            offsets = self._partitions.get(tp)
            if offsets is not None:
                offsets.last_committed = position

    def partitions(self) -> list[TopicPartitionKey]:
        return list(self._partitions)
