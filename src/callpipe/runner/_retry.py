"""What to do after a stage raised: the error's class decides (see callpipe.errors).

Backoff is exponential with full jitter (a uniform draw between 0 and the exponential cap), so a
fleet of instances hit by the same outage does not retry in lockstep. A dependency's own
``retry_after`` wins when it asks for longer.
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass

from callpipe.errors import (
    BackpressureError,
    DependencyUnavailableError,
    PermanentError,
)
from callpipe.settings import RunnerSettings

__all__ = ["Action", "Decision", "RetryPolicy"]


class Action(enum.Enum):
    DEAD_LETTER = "dead_letter"  # permanent, or transient with attempts exhausted
    RETRY = "retry"  # transient: wait ``delay`` and try again (counts an attempt)
    WAIT_DEPENDENCY = "wait_dependency"  # pause the partition, wait, retry forever
    BACKPRESSURE = "backpressure"  # pause consumption for ``delay``, retry (no attempt counted)


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    delay: float = 0.0


class RetryPolicy:
    def __init__(
        self,
        *,
        max_attempts: int,
        initial_s: float,
        max_s: float,
        rng: random.Random | None = None,
    ) -> None:
        self.max_attempts = max_attempts
        self.initial_s = initial_s
        self.max_s = max_s
        self._rng = rng or random.Random()

    @classmethod
    def from_settings(cls, settings: RunnerSettings, rng: random.Random | None = None) -> RetryPolicy:
        return cls(
            max_attempts=settings.max_attempts,
            initial_s=settings.backoff_initial_s,
            max_s=settings.backoff_max_s,
            rng=rng,
        )

    def cap(self, attempt: int) -> float:
        """Upper bound of the jittered delay after the ``attempt``-th failure (1-based)."""
        # The exponent is clamped: a dependency retried forever reaches attempt 10 000, and
        # 2**9999 does not fit a float.
        return float(min(self.max_s, self.initial_s * 2.0 ** min(max(0, attempt - 1), 60)))

    def backoff(self, attempt: int) -> float:
        return self._rng.uniform(0.0, self.cap(attempt))

    def decide(self, error: BaseException, attempt: int, max_attempts: int | None = None) -> Decision:
        """Decision after ``attempt`` failed attempts (1 after the first failure)."""
        retry_after = getattr(error, "retry_after", None)
        asked = float(retry_after) if isinstance(retry_after, int | float) and retry_after > 0 else 0.0
        if isinstance(error, PermanentError):
            return Decision(Action.DEAD_LETTER)
        if isinstance(error, DependencyUnavailableError):
            # Retried forever: keep a floor so an outage never turns into a hot loop.
            return Decision(Action.WAIT_DEPENDENCY, max(asked, self.initial_s, self.backoff(attempt)))
        if isinstance(error, BackpressureError):
            return Decision(Action.BACKPRESSURE, asked or self.initial_s)
        # TransientError, RateLimitedError, a bare CallpipeError, or any other exception (a bug): a
        # bug must not silently drop a call, so it is retried and dead-lettered with its reason.
        if attempt >= (max_attempts or self.max_attempts):
            return Decision(Action.DEAD_LETTER)
        return Decision(Action.RETRY, max(asked, self.backoff(attempt)))
