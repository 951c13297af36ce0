from __future__ import annotations

import pytest

from callpipe.models import (
    AnalysisStatus,
    CallAnalysis,
    EscalationRisk,
    Role,
    SentimentLabel,
    TranscriptStatus,
    Utterance,
)
from callpipe_analyzer.metrics import compute_metrics
from callpipe_analyzer.ports import AnalysisRequest, AnalyzerPorts, AnalyzerResult
from callpipe_analyzer.redaction import Redactor
from callpipe_analyzer.sentiment import SentimentScorer
from callpipe_analyzer.stage import analyze
from callpipe_tools.examples import example_transcript


def U(role: Role, start: float, end: float, text: str = "some words here") -> Utterance:
    return Utterance(
        role=role, speaker="ch0" if role is Role.CALLER else "ch1", start_s=start, end_s=end, text=text
    )


def test_metrics_talk_silence_overlap_interruptions() -> None:
    utts = [U(Role.AGENT, 0, 4), U(Role.CALLER, 3, 6), U(Role.AGENT, 8, 10), U(Role.AGENT, 10.5, 12)]
    m = compute_metrics(utts, 20.0, [0.5, -0.5, 0.2, 0.1])
    assert m.talk_time_s == pytest.approx(4 + 2 + 2 + 1.5)  # union 0–6, 8–10, 10.5–12
    assert m.silence_s == pytest.approx(20 - 9.5)
    assert m.overlap_s == pytest.approx(1.0)
    caller = next(r for r in m.roles if r.role is Role.CALLER)
    agent = next(r for r in m.roles if r.role is Role.AGENT)
    assert caller.interruptions == 1 and agent.interruptions == 0
    assert agent.longest_monologue_s == pytest.approx(4.0)  # 8–12: consecutive agent turns
    assert caller.words_per_minute == pytest.approx(3 / (3 / 60))
    assert agent.sentiment_start == pytest.approx(0.5) and agent.sentiment_end == pytest.approx(0.1)


class Recording:
    kind = "test"
    model = "recording-analyzer"
    prompt_version = "t-1"

    def __init__(self, english_only: bool = True) -> None:
        self.requests: list[AnalysisRequest] = []
        self.english_only = english_only

    def supports_language(self, language: str | None) -> bool:
        return not self.english_only or language in (None, "en")

    async def analyze(self, request: AnalysisRequest) -> AnalyzerResult:
        self.requests.append(request)
        return AnalyzerResult(
            CallAnalysis(
                summary="s",
                sentiment=SentimentLabel.NEUTRAL,
                sentiment_score=0.0,
                intent="payment",
                satisfaction_score=5,
                escalation_risk=EscalationRisk.LOW,
            ),
            self.model,
            self.prompt_version,
        )


def ports(analyzer: Recording) -> AnalyzerPorts:
    return AnalyzerPorts(analyzer=analyzer, redactor=Redactor(), sentiment=SentimentScorer())


async def test_engine_sees_only_redacted_text() -> None:
    event = example_transcript()
    card = Utterance(
        role=Role.CALLER, speaker="ch0", channel=0, start_s=9, end_s=12, text="card 4111 1111 1111 1111"
    )
    event = event.model_copy(update={"utterances": [*event.utterances, card]})
    engine = Recording()
    out = await analyze(event, ports(engine))
    assert out.status is AnalysisStatus.OK
    assert all("4111" not in u.text for u in engine.requests[0].utterances)
    assert all("4111" not in u.text for u in out.utterances)
    assert out.redaction.counts["card_number"] == 1
    assert out.metrics.turn_count == 3 and out.model == "recording-analyzer"


async def test_no_speech_makes_no_engine_call() -> None:
    event = example_transcript().model_copy(update={"status": TranscriptStatus.NO_SPEECH, "utterances": []})
    engine = Recording()
    out = await analyze(event, ports(engine))
    assert out.status is AnalysisStatus.NO_SPEECH and out.analysis is None and engine.requests == []


async def test_unsupported_language_is_flagged() -> None:
    event = example_transcript().model_copy(update={"language": "de"})
    engine = Recording()
    out = await analyze(event, ports(engine))
    assert out.status is AnalysisStatus.UNSUPPORTED_LANGUAGE
    assert "language_unsupported:de" in out.flags and engine.requests == []
    assert out.metrics.turn_count == 2  # metrics are always computed
