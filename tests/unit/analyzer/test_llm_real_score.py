"""Scoring of ``callpipe bench llm-real``: failed calls count against the engine, not out of the sample."""

from __future__ import annotations

from pathlib import Path

import pytest

from callpipe_bench.llm_real import Outcome, ordered_parts, score


def test_failed_call_counts_as_wrong_and_zero_rouge() -> None:
    outcomes = [
        Outcome("a", "negative", "negative", 0.5),
        Outcome("b", "neutral", "positive", 0.3),
        Outcome("c", "negative", None, None, failure="InvalidOutputError: not JSON"),
        Outcome("d", "positive", "positive", 0.2),
    ]
    result = score(outcomes, seconds=8.0)
    assert result.n == 4
    assert result.accuracy == pytest.approx(2 / 4)
    assert result.rouge_l == pytest.approx((0.5 + 0.3 + 0.2) / 4)
    assert result.failed == 1
    assert result.failed_share == pytest.approx(0.25)
    assert result.calls_per_s == pytest.approx(0.5)


def test_failed_call_with_a_stale_label_is_not_counted_right() -> None:
    # A failure wins over whatever prediction came with it: the service dead-letters that call.
    outcomes = [Outcome("a", "negative", "negative", 0.9, failure="TransientError: timed out")]
    result = score(outcomes, seconds=1.0)
    assert result.accuracy == 0.0
    assert result.rouge_l == 0.0
    assert result.failed_share == 1.0


def test_no_outcomes_scores_zero_without_dividing_by_zero() -> None:
    result = score([], seconds=0.0)
    assert (result.n, result.accuracy, result.rouge_l, result.failed_share, result.calls_per_s) == (
        0,
        0.0,
        0.0,
        0.0,
        0.0,
    )


def test_model_parts_are_joined_in_numeric_order() -> None:
    paths = [Path(f"x/p{n}/data/part{n}.bin") for n in (10, 2, 1, 22, 3)]
    assert [p.name for p in ordered_parts(paths)] == [f"part{n}.bin" for n in (1, 2, 3, 10, 22)]


def test_a_stray_file_among_the_parts_is_refused() -> None:
    with pytest.raises(ValueError, match="not a model part"):
        ordered_parts([Path("part1.bin"), Path("README.md")])
