"""Batch mode without a broker: the next batch fills while the current one is processed."""

from __future__ import annotations

import asyncio

from confluent_kafka import Message

from callpipe.observability import runner_metrics
from callpipe.runner import BatchStage
from callpipe.runner._batch_mode import BatchMode
from callpipe.runner._context import RunContext, Taken
from callpipe.runner._retry import RetryPolicy
from callpipe.settings import RunnerSettings

SETTINGS = RunnerSettings(batch_size=3, batch_max_wait_ms=60_000, max_attempts=2)
TP = ("in", 0)


class NoOutputs:
    async def dead_letter(self, taken, exc, attempts):  # pragma: no cover - no poison here
        raise AssertionError("nothing should be dead-lettered")


class Writer:
    """process_batch that blocks each batch until the test lets it through."""

    def __init__(self):
        self.started: list[list[str]] = []
        self.gates: list[asyncio.Event] = []

    async def process_batch(self, events: list[str]) -> None:
        gate = asyncio.Event()
        self.started.append(events)
        self.gates.append(gate)
        await gate.wait()


def setup(name="bm"):
    ctx = RunContext(name, SETTINGS, RetryPolicy.from_settings(SETTINGS), runner_metrics())
    writer = Writer()
    stage = BatchStage(
        name=name, input_topic="in", decode=lambda b: b.decode(), process_batch=writer.process_batch
    )
    mode = BatchMode(stage, ctx, NoOutputs())  # type: ignore[arg-type]
    offsets = ctx.tracker.assign(TP)
    return ctx, mode, writer, offsets


def take(mode, offsets, offset, tp=TP):
    assert offsets.add(offset)
    message = Message(
        topic=tp[0], partition=tp[1], offset=offset, key=f"c{offset}".encode(), value=f"m{offset}".encode()
    )
    mode.accept(Taken(message, offsets, tp))


async def settle():
    for _ in range(5):
        await asyncio.sleep(0)


async def test_next_batch_fills_while_the_current_one_runs_and_starts_when_it_ends():
    _ctx, mode, writer, offsets = setup("bm-overlap")
    for i in range(3):
        take(mode, offsets, i)
    mode.after_intake()
    await settle()
    assert writer.started == [["m0", "m1", "m2"]]

    # While batch 1 is written, the core may still take a whole batch.
    room, _timeout = await mode.intake_room()
    assert room == 3
    assert not mode.capacity_full()
    for i in range(3, 6):
        take(mode, offsets, i)
    mode.after_intake()
    await settle()
    assert len(writer.started) == 1  # one batch processed at a time
    assert mode.capacity_full()  # only now would the core pause
    room, _ = await asyncio.wait_for(mode.intake_room(), 1.0)
    assert room == 0
    assert offsets.commit_position is None  # nothing stored yet: nothing to commit

    writer.gates[0].set()
    await settle()
    # Batch 2 started as soon as batch 1 ended, without another intake round.
    assert writer.started[1] == ["m3", "m4", "m5"]
    assert offsets.commit_position == 3  # batch 1 stored: its offsets count as finished
    assert not mode.capacity_full()
    writer.gates[1].set()
    await settle()
    assert offsets.commit_position == 6


async def test_revoke_drops_the_filling_batch_of_revoked_partitions_and_drains_the_running_one():
    ctx, mode, writer, offsets = setup("bm-revoke")
    other_tp = ("in", 1)
    other = ctx.tracker.assign(other_tp)
    for i in range(3):
        take(mode, offsets, i)
    mode.after_intake()
    await settle()
    take(mode, offsets, 3)
    take(mode, other, 0, other_tp)
    take(mode, other, 1, other_tp)

    to_drain = mode.release({TP})
    assert len(to_drain) == 1
    writer.gates[0].set()
    await asyncio.wait(to_drain, timeout=1.0)
    await settle()
    assert offsets.commit_position == 3  # the running batch finished and counts
    # Offset 3 of the revoked partition was dropped for redelivery; partition 1's stay queued.
    mode.after_intake()
    assert len(writer.started) == 1
    ctx.stopping.set()
    tasks = mode.shutdown_tasks()
    await settle()
    assert writer.started[1] == ["m0", "m1"]
    writer.gates[1].set()
    await asyncio.wait(tasks, timeout=1.0)
    assert other.commit_position == 2


async def test_shutdown_finishes_the_running_and_the_filled_batch_then_stops():
    ctx, mode, writer, offsets = setup("bm-shutdown")
    for i in range(3):
        take(mode, offsets, i)
    mode.after_intake()
    await settle()
    take(mode, offsets, 3)
    take(mode, offsets, 4)
    mode.after_intake()  # not due yet (2 of 3, long max wait): it waits in memory
    assert writer.started == [["m0", "m1", "m2"]]
    ctx.stopping.set()
    tasks = mode.shutdown_tasks()
    writer.gates[0].set()
    await settle()
    assert writer.started[1] == ["m3", "m4"]
    writer.gates[1].set()
    _done, pending = await asyncio.wait(tasks, timeout=1.0)
    assert not pending
    assert offsets.commit_position == 5


async def test_shutdown_drain_timeout_cancels_the_running_batch_and_commits_nothing_of_it():
    ctx, mode, writer, offsets = setup("bm-cancel")
    for i in range(3):
        take(mode, offsets, i)
    mode.after_intake()
    await settle()
    take(mode, offsets, 3)
    ctx.stopping.set()
    tasks = mode.shutdown_tasks()
    _done, late = await asyncio.wait(tasks, timeout=0.05)
    assert late
    for task in late:
        task.cancel()
    await asyncio.gather(*late, return_exceptions=True)
    assert offsets.commit_position is None
    assert len(writer.started) == 1  # the queued batch never started
