"""Getting a finished message's record to the broker: its output, or its dead letter.

A message counts as finished only once one of these was acknowledged. Sends are retried while
the broker is unavailable (the partition paused meanwhile), without repeating the processing;
only a permanent refusal (a record too large) gives up, and then the input is dead-lettered.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from callpipe.errors import PermanentError
from callpipe.kafka import EventProducer
from callpipe.runner._context import RunContext, Taken, reason
from callpipe.runner._dead_letter import dead_letter_headers, error_class_name
from callpipe.runner._retry import Action

__all__ = ["Headers", "Outputs"]

_log = logging.getLogger("callpipe.runner")

Headers = list[tuple[str, str | bytes | None]]


class Outputs:
    def __init__(
        self,
        ctx: RunContext,
        dead_letter_topic: str,
        on_producer_failed: Callable[[BaseException], None] | None = None,
    ) -> None:
        self._ctx = ctx
        self.dead_letter_topic = dead_letter_topic
        # Called when the producer gave up after repeated fatal errors (see EventProducer): the
        # runner then fails its health check and stops; this send keeps waiting, uncommitted,
        # until the drain cancels it, so the input is re-delivered after the restart.
        self._on_producer_failed = on_producer_failed
        # Created by the runner's run(): the producer's poll thread lives only while it runs.
        self.producer: EventProducer | None = None

    async def deliver(
        self, taken: Taken, topic: str, key: str | bytes | None, value: bytes, headers: Headers | None
    ) -> None:
        """Send and wait for the ack; retried forever while the broker is unavailable.

        Only the send is retried: the (possibly expensive) processing is not repeated.
        """
        assert self.producer is not None
        ctx = self._ctx
        attempt = 0
        while True:
            attempt += 1
            try:
                await self.producer.send(topic, key, value, headers)
                return
            except PermanentError:
                raise
            except Exception as exc:  # noqa: BLE001 - anything but a permanent refusal: keep the record
                failure = self.producer.failure
                if failure is not None and self._on_producer_failed is not None:
                    self._on_producer_failed(failure)
                decision = ctx.policy.decide(exc, attempt, max_attempts=1 << 30)
                _log.warning(
                    "output not acknowledged; retrying",
                    extra={"stage": ctx.stage_name, "topic": topic, "error": reason(exc)},
                )
                await ctx.wait(taken.tp, Action.WAIT_DEPENDENCY, max(decision.delay, ctx.policy.initial_s))

    async def dead_letter(self, taken: Taken, exc: BaseException, attempts: int) -> None:
        ctx = self._ctx
        message = taken.message
        headers = dead_letter_headers(
            message.headers(),
            error=exc,
            stage=ctx.stage_name,
            topic=taken.tp[0],
            partition=taken.tp[1],
            offset=taken.offset,
            attempts=attempts,
        )
        while True:
            try:
                await self.deliver(
                    taken, self.dead_letter_topic, message.key(), message.value() or b"", list(headers)
                )
                break
            except PermanentError as dlq_exc:
                # Not even the dead-letter topic takes it: keep the partition blocked (nothing is
                # committed past it) and shout, rather than drop a call.
                _log.critical(
                    "dead-letter topic refused the record",
                    extra={"stage": ctx.stage_name, "error": reason(dlq_exc), "offset": taken.offset},
                )
                await asyncio.sleep(ctx.policy.max_s)
        ctx.metrics.dead_lettered.labels(ctx.stage_name, error_class_name(exc)).inc()
