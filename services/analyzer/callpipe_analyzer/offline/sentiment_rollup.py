"""Per-speaker and overall sentiment of a call: each party's label from its dev-fitted model (or
the VADER roll-up without one), the dismissive-agent rule, and the overall sentiment, which is the
caller's (the customer's experience is measured).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from callpipe.models import Role, SentimentLabel, SpeakerSentiment
from callpipe_analyzer.offline.features import Array, CallFeatures
from callpipe_analyzer.offline.lexicon import AGENT_THRESHOLDS, DISMISSIVE_NEGATIVE
from callpipe_analyzer.offline.supervised import LinearModel, SupervisedModels
from callpipe_analyzer.ports import AnalysisRequest
from callpipe_analyzer.sentiment import dismissive_phrases, label_for, speaker_score

__all__ = ["CallSentiment", "SentimentRollup"]


@dataclass(frozen=True)
class CallSentiment:
    speakers: list[SpeakerSentiment]
    label: SentimentLabel  # the call's overall sentiment
    score: float  # the call's overall score, -1..1
    caller_p_negative: float | None  # from the caller's sentiment model, when one applies
    caller_scores: list[float]  # per caller turn (VADER), for satisfaction


class SentimentRollup:
    """``models``: the dev-fitted sentiment models, or None for rules only."""

    def __init__(self, models: SupervisedModels | None) -> None:
        self._models = models

    def of(self, request: AnalysisRequest, feats: CallFeatures) -> CallSentiment:
        utterances = request.utterances
        caller_idx = [i for i, u in enumerate(utterances) if u.role is not Role.AGENT]
        agent_idx = [i for i, u in enumerate(utterances) if u.role is Role.AGENT]
        caller_label = label_for(feats.caller_rollup)
        caller_score = feats.caller_rollup
        p_negative: float | None = None
        if self._models is not None and caller_idx:
            caller_label, caller_score, p_negative = _label_and_score(self._models.sentiment, feats.sentiment)
        agent_rollup = speaker_score([request.sentiments[i] for i in agent_idx])
        agent_label, agent_score = label_for(agent_rollup, **AGENT_THRESHOLDS), agent_rollup
        if self._models is not None and agent_idx:
            agent_label, agent_score, _ = _label_and_score(
                self._models.agent_sentiment, feats.agent_sentiment
            )
        dismissive = dismissive_phrases([utterances[i].text for i in agent_idx])
        if dismissive >= DISMISSIVE_NEGATIVE:
            # The rule's own score: -2/3 for two phrases, nearer -1 with more.
            agent_label, agent_score = SentimentLabel.NEGATIVE, -dismissive / (dismissive + 1)
        speakers: list[SpeakerSentiment] = []
        if caller_idx:
            speakers.append(
                SpeakerSentiment(role=Role.CALLER, sentiment=caller_label, score=round(caller_score, 4))
            )
        if agent_idx:
            speakers.append(
                SpeakerSentiment(role=Role.AGENT, sentiment=agent_label, score=round(agent_score, 4))
            )
        return CallSentiment(
            speakers=speakers,
            label=caller_label if caller_idx else label_for(agent_rollup),
            score=caller_score if caller_idx else agent_rollup,
            caller_p_negative=p_negative,
            caller_scores=[request.sentiments[i] for i in caller_idx],
        )


def _label_and_score(model: LinearModel, features: Array) -> tuple[SentimentLabel, float, float]:
    """The model's label, the reported score P(positive) − P(negative) (consistent in sign with
    the label) and P(negative)."""
    p = model.proba(features)
    labels = model.labels
    p_negative = float(p[labels.index("negative")])
    return (
        SentimentLabel(labels[int(np.argmax(p))]),
        float(p[labels.index("positive")]) - p_negative,
        p_negative,
    )
