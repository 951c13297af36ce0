"""What the analyze stage needs from the outside: an analyzer engine, the redactor, a scorer, a clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from callpipe.models import CallAnalysis, TokenUsage, Utterance
from callpipe_analyzer.audio_redaction import AudioRedactor
from callpipe_analyzer.quality import QualityRules
from callpipe_analyzer.redaction import Redactor
from callpipe_analyzer.sentiment import SentimentScorer

__all__ = ["AnalysisRequest", "Analyzer", "AnalyzerPorts", "AnalyzerResult"]


@dataclass(frozen=True)
class AnalysisRequest:
    """One call, already redacted, with per-utterance sentiment aligned to ``utterances``."""

    call_id: str
    utterances: list[Utterance]
    sentiments: list[float]
    language: str | None = None


@dataclass(frozen=True)
class AnalyzerResult:
    analysis: CallAnalysis
    model: str
    prompt_version: str
    token_usage: TokenUsage = field(default_factory=TokenUsage)
    flags: list[str] = field(default_factory=list)


class Analyzer(Protocol):
    """An analysis engine: the offline one or an LLM. Raises callpipe.errors classes only."""

    kind: str
    # Stored with every analysis, so a row says which model and prompt/rules version made it
    # (re-analysis after a model change can tell old rows from new).
    model: str
    prompt_version: str

    def supports_language(self, language: str | None) -> bool: ...

    async def analyze(self, request: AnalysisRequest) -> AnalyzerResult: ...


@dataclass
class AnalyzerPorts:
    analyzer: Analyzer
    redactor: Redactor
    sentiment: SentimentScorer
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    # None where no recording store is at hand (tools, transcript-only eval): text redaction only.
    audio_redactor: AudioRedactor | None = None
    # Categories and QA forms of analysis.yaml; none configured means none evaluated.
    quality: QualityRules = field(default_factory=QualityRules)
