"""What a stage is: its input, how to decode it, the work, and where the result goes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["BatchStage", "MessageStage"]

I = TypeVar("I")  # noqa: E741 - the conventional name for a stage's input type
O = TypeVar("O")  # noqa: E741


@dataclass(frozen=True)
class MessageStage(Generic[I, O]):
    """Processes one message at a time (many concurrently): decode → process → produce.

    ``process`` returns the output event, or None when there is nothing to produce (the input
    then counts as finished at once). ``decode`` raises PoisonMessageError for undecodable bytes.
    """

    name: str
    input_topic: str
    decode: Callable[[bytes], I]
    process: Callable[[I], Awaitable[O | None]]
    output_topic: str | None = None
    encode: Callable[[O], bytes] | None = None
    key: Callable[[O], str] | None = None

    def __post_init__(self) -> None:
        if not self.name or not self.input_topic:
            raise ValueError("a stage needs a name and an input topic")
        wired = (self.output_topic is not None, self.encode is not None, self.key is not None)
        if any(wired) and not all(wired):
            raise ValueError(f"stage {self.name!r}: output_topic, encode and key go together")

    @property
    def produces(self) -> bool:
        return self.output_topic is not None


@dataclass(frozen=True)
class BatchStage(Generic[I]):
    """Processes messages in batches (the sink): up to ``batch_size`` or ``batch_max_wait_ms``.

    ``process_batch`` receives the decoded events of one batch and returns when they are durably
    stored; offsets are committed only after it returned.
    """

    name: str
    input_topic: str
    decode: Callable[[bytes], I]
    process_batch: Callable[[list[I]], Awaitable[None]]

    def __post_init__(self) -> None:
        if not self.name or not self.input_topic:
            raise ValueError("a stage needs a name and an input topic")
