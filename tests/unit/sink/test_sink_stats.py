"""The two-proportion z-test behind /trends, against values worked out by hand."""

from __future__ import annotations

import math

import pytest

from callpipe_sink.insights.stats import two_proportion_z


def test_known_value() -> None:
    # p1 = 0.3, p2 = 0.2, pooled = 230/1100; se = sqrt(p(1-p)(1/100 + 1/1000)) = 0.042651…
    test = two_proportion_z(30, 100, 200, 1000)
    pooled = 230 / 1100
    expected_z = 0.1 / math.sqrt(pooled * (1 - pooled) * (1 / 100 + 1 / 1000))
    assert test.z == pytest.approx(expected_z)
    assert test.z == pytest.approx(2.3446, abs=1e-3)
    assert test.p_value == pytest.approx(0.00952, abs=2e-4)  # one-sided normal tail
    assert test.lift == pytest.approx(1.5)


def test_a_falling_share_has_a_large_p_value() -> None:
    test = two_proportion_z(5, 100, 300, 1000)
    assert test.z < 0 and test.p_value > 0.99


def test_new_label_has_no_lift_and_degenerate_windows_show_no_change() -> None:
    assert two_proportion_z(10, 100, 0, 1000).lift is None
    flat = two_proportion_z(0, 50, 0, 500)
    assert (flat.z, flat.p_value) == (0.0, 1.0)


@pytest.mark.parametrize(("x1", "n1", "x2", "n2"), [(1, 0, 1, 10), (11, 10, 1, 10), (-1, 10, 1, 10)])
def test_invalid_counts_are_refused(x1: int, n1: int, x2: int, n2: int) -> None:
    with pytest.raises(ValueError, match=r"window|counts"):
        two_proportion_z(x1, n1, x2, n2)
