"""What every fault test does with the stage runner: run it until each planned call has had its
chance, then read back what it produced and what it dead-lettered.

A fault test plans, per call, faults that are eventually overcome (``recovers``) and a fault
that never ends (``never``). It is done when every never-ending call has used its whole budget of
attempts (only then is its dead letter written) and every other call was tried at least once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from callpipe.avro import AvroSerde
from callpipe.runner import StageRunner
from callpipe_tools.testing.faults import FaultInjector
from tests.integration.faults.conftest import Until, header, read_all

__all__ = ["DeadLetter", "assert_replayable", "dead_letters", "run_until_settled"]


async def run_until_settled(
    runner: StageRunner,
    injector: FaultInjector,
    *,
    recovers: Iterable[str],
    never: Iterable[str],
    budget: int,
    until: Until,
    limit_s: float = 60.0,
) -> None:
    """Run ``runner`` until each ``never`` key had ``budget`` requests and each ``recovers`` key
    at least one, then stop it cleanly (its last produce and commit included)."""
    recovers, never = list(recovers), list(never)
    task = asyncio.create_task(runner.run())
    try:
        seen = lambda: str({k: injector.attempts(k) for k in [*recovers, *never]})  # noqa: E731
        assert await until(lambda: all(injector.attempts(k) >= budget for k in never), limit_s), seen()
        assert await until(lambda: all(injector.attempts(k) >= 1 for k in recovers), limit_s / 2), seen()
    finally:
        await asyncio.sleep(1.0)  # let the last produce and commit finish
        runner.stop()
        await asyncio.wait_for(task, 30)


@dataclass(frozen=True)
class DeadLetter:
    key: str
    error_class: str | None
    message: str | None
    attempts: str | None
    value: bytes


def dead_letters(bootstrap: str, topic: str, expected: int, timeout: float = 30.0) -> dict[str, DeadLetter]:
    """The dead-letter records of ``topic`` by key, with the reason headers the runner writes."""
    out: dict[str, DeadLetter] = {}
    for message in read_all(bootstrap, topic, expected, timeout=timeout):
        key = (message.key() or b"").decode()
        assert key not in out, f"{key} dead-lettered twice"
        out[key] = DeadLetter(
            key=key,
            error_class=header(message, "x-callpipe-error-class"),
            message=header(message, "x-callpipe-error-message"),
            attempts=header(message, "x-callpipe-attempts"),
            value=message.value() or b"",
        )
    return out


def assert_replayable(dead: dict[str, DeadLetter], serde: AvroSerde[Any], attempts: int) -> None:
    """Each dead letter keeps the original bytes (so the call can be replayed once fixed) and says
    it used the whole budget of ``attempts``."""
    for key, letter in dead.items():
        assert serde.deserialize(letter.value).call_id == key
        assert letter.attempts == str(attempts)
