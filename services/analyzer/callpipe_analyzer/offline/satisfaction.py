"""Satisfaction 1–10 from the caller's sentiment, how the call ended, and escalation risk."""

from __future__ import annotations

from callpipe.models import EscalationRisk

__all__ = ["satisfaction_score"]

# 5.5 is a neutral call; the caller's overall and closing mood move it, a resolved ending lifts it
# and an escalation risk lowers it.
_BASE = 5.5
_OVERALL_WEIGHT = 3.0
_END_WEIGHT = 1.5
_END_TURNS = 3
_RESOLVED_BONUS = 1.0
_ESCALATION_PENALTY = {EscalationRisk.LOW: 0.0, EscalationRisk.MEDIUM: 1.0, EscalationRisk.HIGH: 2.5}


def satisfaction_score(
    caller_score: float, caller_scores: list[float], escalation: EscalationRisk, resolved: bool
) -> int:
    """``caller_score``: the caller's roll-up; ``caller_scores``: per caller turn."""
    last = caller_scores[-_END_TURNS:]
    end = sum(last) / len(last) if caller_scores else 0.0
    value = (
        _BASE + _OVERALL_WEIGHT * caller_score + _END_WEIGHT * end + (_RESOLVED_BONUS if resolved else 0.0)
    )
    value -= _ESCALATION_PENALTY[escalation]
    return int(min(10, max(1, round(value))))
