"""Churn risk: will the caller leave? (cancel, switch provider, take a competitor's offer).

A different risk from escalation (supervisor, complaint, legal, social media): a calm, decided
cancellation is churn high and escalation low, and a furious caller who wants a supervisor but
never mentions leaving is escalation high and churn low. Supervisors act on them differently
(retention offer vs. complaint handling), so the two are decided apart.

The cues come from the configuration (``churn`` in ``analysis.yaml``), never from code, so a user's
own taxonomy says which of its intents are a departure:

- *high*: the call's intent is one of ``churn.intents``, or the caller announces leaving
  (a ``churn.high`` phrase), or weighs leaving while naming a competitor;
- *medium*: the caller weighs leaving (a ``churn.medium`` phrase);
- *low*: otherwise. A competitor named without a leaving cue is no churn by itself ("my son is on
  Google Fi, I want him on my account" is the opposite); it only makes weighing concrete.
"""

from __future__ import annotations

import re

from callpipe.models import ChurnRisk
from callpipe_analyzer.config import ChurnCues

__all__ = ["ChurnDetector"]

# Transcripts spell apostrophes both ways; the phrases are written with the straight one.
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'"})


def _phrase_pattern(phrases: list[str]) -> re.Pattern[str] | None:
    if not phrases:
        return None
    # Longest first, so that "cancel my service" is not cut to a shorter alternative.
    alternatives = "|".join(re.escape(p.strip().lower()) for p in sorted(phrases, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")


class ChurnDetector:
    """Decides ``churn_risk`` from the intent, the caller's words and competitors the caller named."""

    def __init__(self, cues: ChurnCues) -> None:
        self._intents = frozenset(cues.intents)
        self._high = _phrase_pattern(cues.high)
        self._medium = _phrase_pattern(cues.medium)

    def cues(self, caller_texts: list[str]) -> tuple[list[str], list[str]]:
        """The high and the medium phrases found in the caller's turns (for tests and reasons)."""
        text = " ".join(caller_texts).translate(_APOSTROPHES).lower()
        high = self._high.findall(text) if self._high else []
        medium = self._medium.findall(text) if self._medium else []
        return high, medium

    def risk(self, intent: str, caller_texts: list[str], caller_named_competitor: bool) -> ChurnRisk:
        if intent in self._intents:
            return ChurnRisk.HIGH
        high, medium = self.cues(caller_texts)
        if high or (medium and caller_named_competitor):
            return ChurnRisk.HIGH
        if medium:
            return ChurnRisk.MEDIUM
        return ChurnRisk.LOW
