"""Two-proportion z-test used by ``/trends``: did a label's share of calls rise against a baseline?

For a label seen in ``x1`` of ``n1`` recent calls and ``x2`` of ``n2`` baseline calls, the pooled
test statistic is ``z = (p1 - p2) / sqrt(p (1 - p) (1/n1 + 1/n2))`` with ``p = (x1 + x2) / (n1 + n2)``;
the one-sided p-value is ``P(Z >= z)``. Many labels are tested at once, so the significance
threshold is Bonferroni-corrected by the number of labels tested.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["ProportionTest", "two_proportion_z"]


@dataclass(frozen=True)
class ProportionTest:
    recent_share: float
    baseline_share: float
    z: float
    p_value: float

    @property
    def lift(self) -> float | None:
        """Recent share over baseline share; None when the label is new (baseline share 0)."""
        return self.recent_share / self.baseline_share if self.baseline_share > 0 else None


def two_proportion_z(x1: int, n1: int, x2: int, n2: int) -> ProportionTest:
    """One-sided test that the recent proportion x1/n1 exceeds the baseline x2/n2."""
    if n1 <= 0 or n2 <= 0:
        raise ValueError("both windows need at least one call")
    if not (0 <= x1 <= n1 and 0 <= x2 <= n2):
        raise ValueError("counts must lie between 0 and the window's call count")
    p1, p2 = x1 / n1, x2 / n2
    pooled = (x1 + x2) / (n1 + n2)
    variance = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    if variance == 0:
        # Both windows all-or-nothing for this label: no evidence of change either way.
        return ProportionTest(p1, p2, 0.0, 1.0)
    z = (p1 - p2) / math.sqrt(variance)
    p_value = 0.5 * math.erfc(z / math.sqrt(2))
    return ProportionTest(p1, p2, z, p_value)
