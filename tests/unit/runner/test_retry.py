import random

import pytest

from callpipe.errors import (
    BackpressureError,
    CallpipeError,
    DependencyUnavailableError,
    InvalidInputError,
    PoisonMessageError,
    RateLimitedError,
    TransientError,
)
from callpipe.runner import Action, RetryPolicy


def policy(max_attempts=3, seed=1):
    return RetryPolicy(max_attempts=max_attempts, initial_s=0.5, max_s=30.0, rng=random.Random(seed))


@pytest.mark.parametrize("error", [PoisonMessageError("x"), InvalidInputError("x")])
def test_permanent_errors_dead_letter_at_once(error):
    assert policy().decide(error, 1).action is Action.DEAD_LETTER


@pytest.mark.parametrize(
    "error", [TransientError("x"), RateLimitedError("x"), CallpipeError("x"), ValueError("a bug")]
)
def test_transient_and_unknown_errors_retry_then_dead_letter(error):
    p = policy(max_attempts=3)
    assert p.decide(error, 1).action is Action.RETRY
    assert p.decide(error, 2).action is Action.RETRY
    assert p.decide(error, 3).action is Action.DEAD_LETTER


def test_dependency_unavailable_is_retried_forever_with_a_floor():
    p = policy(max_attempts=2)
    for attempt in (1, 2, 50, 10_000):
        decision = p.decide(DependencyUnavailableError("db down"), attempt)
        assert decision.action is Action.WAIT_DEPENDENCY
        assert 0.5 <= decision.delay <= 30.0


def test_backpressure_pauses_for_retry_after():
    decision = policy().decide(BackpressureError("full", retry_after=7.0), 1)
    assert decision.action is Action.BACKPRESSURE
    assert decision.delay == 7.0


def test_full_jitter_stays_within_the_exponential_cap():
    p = policy(seed=42)
    for attempt, cap in ((1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (10, 30.0)):
        delays = [p.decide(TransientError("x"), attempt, max_attempts=100).delay for _ in range(500)]
        assert all(0.0 <= d <= cap for d in delays)
        # Full jitter spreads over the whole range, not a fixed delay.
        assert min(delays) < cap * 0.1
        assert max(delays) > cap * 0.9


def test_retry_after_is_honoured_when_larger_than_the_backoff():
    p = policy()
    decision = p.decide(RateLimitedError("429", retry_after=12.0), 1)
    assert decision.action is Action.RETRY
    assert decision.delay == 12.0
    small = p.decide(RateLimitedError("429", retry_after=0.001), 5, max_attempts=10)
    assert small.delay <= 8.0  # backoff cap for attempt 5 is 8 s; retry_after only raises the delay
