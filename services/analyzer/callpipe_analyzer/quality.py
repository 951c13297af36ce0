"""Categories and QA scorecards of one call, after metrics and the engine (both engines alike)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from callpipe.models import CallAnalysis, CallMetrics, CategoryMatch, Scorecard, Utterance
from callpipe_analyzer.categories import CallView, evaluate_categories
from callpipe_analyzer.config import AnalysisConfig, CategorySpec, ScorecardForm
from callpipe_analyzer.scorecards import score_forms

__all__ = ["QualityRules", "longest_gap_s"]


def longest_gap_s(utterances: Sequence[Utterance]) -> float:
    """Longest stretch with nobody speaking between two turns (hold, dead air)."""
    longest, spoken_until = 0.0, None
    for u in sorted(utterances, key=lambda u: u.start_s):
        if spoken_until is not None:
            longest = max(longest, u.start_s - spoken_until)
        spoken_until = u.end_s if spoken_until is None else max(spoken_until, u.end_s)
    return round(longest, 3)


@dataclass(frozen=True)
class QualityRules:
    categories: dict[str, CategorySpec] = field(default_factory=dict)
    scorecards: list[ScorecardForm] = field(default_factory=list)

    @classmethod
    def from_config(cls, config: AnalysisConfig) -> QualityRules:
        return cls(categories=dict(config.categories), scorecards=list(config.scorecards))

    def assess(
        self,
        utterances: Sequence[Utterance],
        sentiments: Sequence[float],
        metrics: CallMetrics,
        analysis: CallAnalysis | None,
        *,
        engine: str,
    ) -> tuple[list[CategoryMatch], list[Scorecard]]:
        if not utterances:
            # Nothing was said: "disclosure missing" would be true and meaningless; no form to score.
            return [], []
        call = CallView(utterances=utterances, sentiments=sentiments, metrics=metrics, analysis=analysis)
        matches = evaluate_categories(self.categories, call)
        cards = score_forms(
            self.scorecards,
            matches,
            metrics,
            analysis,
            longest_silence_s=longest_gap_s(utterances),
            engine=engine,
        )
        return matches, cards
