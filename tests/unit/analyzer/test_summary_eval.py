"""The summary eval's ROUGE-L (equal to rouge-score's rougeL without stemming) and its fixed split."""

from __future__ import annotations

import pytest

from callpipe_bench.rouge import best_rouge_l, rouge_l, tokens
from callpipe_bench.summary_eval import split_of


def test_tokens_as_rouge_score_splits_them() -> None:
    assert tokens("The customer's iPhone-X, 22.35!") == ["the", "customer", "s", "iphone", "x", "22", "35"]


def test_rouge_l_worked_examples() -> None:
    # LCS "the cat sat" = 3: P = 3/3, R = 3/6 → F = 2/3.
    assert rouge_l("the cat sat", "the cat sat on the mat") == pytest.approx(2 / 3)
    # LCS "police the gunman" = 3 of 4 and 4 (the textbook example): F = 0.75.
    assert rouge_l("police killed the gunman", "the gunman police kill") == pytest.approx(0.5)
    assert rouge_l("police kill the gunman", "police killed the gunman") == pytest.approx(0.75)
    assert rouge_l("", "anything") == 0.0
    assert best_rouge_l("the cat sat", ["a dog", "the cat sat"]) == pytest.approx(1.0)


def test_split_is_fixed_and_about_a_third_heldout() -> None:
    ids = [f"conv-{i}" for i in range(3000)]
    heldout = sum(split_of(i) == "heldout" for i in ids)
    assert 900 < heldout < 1100
    assert [split_of(i) for i in ids[:50]] == [split_of(i) for i in ids[:50]]
    assert split_of("005dd83f4c0950025500b5e43e97ca2c") == split_of("005dd83f4c0950025500b5e43e97ca2c")
