"""Hand-written calls for the offline analyzer's unit tests: turns → the request the stage builds."""

from __future__ import annotations

from callpipe.models import Role, Utterance
from callpipe_analyzer.ports import AnalysisRequest
from callpipe_analyzer.sentiment import SentimentScorer

__all__ = ["analysis_request"]

_SCORER = SentimentScorer()


def analysis_request(turns: list[tuple[Role, str]], *, call_id: str = "CA-test") -> AnalysisRequest:
    """4 s per turn; per-turn sentiment as the analyze stage scores it (agents keep courtesy)."""
    return AnalysisRequest(
        call_id=call_id,
        utterances=[
            Utterance(role=r, speaker=r.value, start_s=4.0 * i, end_s=4.0 * i + 3.5, text=t)
            for i, (r, t) in enumerate(turns)
        ],
        sentiments=[_SCORER.score(t, strip_courtesy=r is not Role.AGENT) for r, t in turns],
    )
