"""Escalation risk: may the caller escalate (supervisor, complaint, legal, regulators, social
media)? Explicit cues and frustration cues in the caller's words, weighed by how likely the caller
is negative. Leaving is churn (offline/churn.py), not escalation.
"""

from __future__ import annotations

from callpipe.models import EscalationRisk
from callpipe_analyzer.offline.lexicon import (
    ESCALATION_ALONE_P,
    ESCALATION_ALONE_SCORE,
    ESCALATION_HIGH_P,
    ESCALATION_HIGH_SCORE,
    ESCALATION_MEDIUM_P,
    ESCALATION_MEDIUM_SCORE,
    HIGH_ESCALATION,
    MEDIUM_ESCALATION,
)

__all__ = ["escalation_risk"]


def escalation_risk(caller_text: str, caller_score: float, p_negative: float | None) -> EscalationRisk:
    """``caller_score``: the caller's VADER roll-up; ``p_negative``: the caller sentiment model's
    P(negative), None without a model."""
    high = len(HIGH_ESCALATION.findall(caller_text))
    medium = len(MEDIUM_ESCALATION.findall(caller_text))
    if p_negative is not None:
        # With the sentiment model: its P(negative) instead of VADER thresholds (sarcastic and
        # polite anger is negative there).
        if high and (p_negative > ESCALATION_HIGH_P or high > 1):
            return EscalationRisk.HIGH
        if (
            high
            or medium >= 2
            or (medium and p_negative > ESCALATION_MEDIUM_P)
            or p_negative > ESCALATION_ALONE_P
        ):
            return EscalationRisk.MEDIUM
        return EscalationRisk.LOW
    if high and (caller_score < ESCALATION_HIGH_SCORE or high > 1):
        return EscalationRisk.HIGH
    if (
        high
        or medium >= 2
        or (medium and caller_score < ESCALATION_MEDIUM_SCORE)
        or caller_score < ESCALATION_ALONE_SCORE
    ):
        return EscalationRisk.MEDIUM
    return EscalationRisk.LOW
