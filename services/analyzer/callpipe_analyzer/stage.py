"""The analyze stage: ``TranscriptReady`` → ``CallAnalyzed``.

Order matters: redaction runs first, so neither the analyzer engine (which may be a remote LLM)
nor the utterances stored downstream ever see a card number, and the recording the analysis names
is the copy with the card numbers bleeped (``audio_redaction``); metrics and per-utterance sentiment
are computed for every call, whatever the engine and even when there is nothing to analyze.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from callpipe.models import (
    AnalysisStatus,
    AnalyzedUtterance,
    CallAnalyzed,
    RedactionInfo,
    Role,
    StageTiming,
    TokenUsage,
    TranscriptReady,
    TranscriptStatus,
    Utterance,
)
from callpipe_analyzer.metrics import compute_metrics
from callpipe_analyzer.ports import AnalysisRequest, AnalyzerPorts
from callpipe_analyzer.redaction import RedactionResult, Redactor
from callpipe_analyzer.sentiment import SentimentScorer

__all__ = ["ANALYZER_VERSION", "analyze", "prepare"]

ANALYZER_VERSION = "0.1.0"


def prepare(
    utterances: Sequence[Utterance], redactor: Redactor, scorer: SentimentScorer
) -> tuple[RedactionResult, list[float]]:
    """What every engine sees, and what the offline models are fitted on: the spoken turns in
    time order, redacted, each with its sentiment (agents keep their courtesy)."""
    spoken = sorted((u for u in utterances if u.text.strip()), key=lambda u: u.start_s)
    redaction = redactor.redact(spoken)
    return redaction, [
        scorer.score(u.text, strip_courtesy=u.role is not Role.AGENT) for u in redaction.utterances
    ]


async def analyze(event: TranscriptReady, ports: AnalyzerPorts) -> CallAnalyzed:
    started = time.perf_counter()
    redaction, sentiments = prepare(event.utterances, ports.redactor, ports.sentiment)
    utterances = redaction.utterances
    overlaps = [(o.start_s, o.end_s) for o in event.overlaps]
    metrics = compute_metrics(utterances, event.audio_duration_s, sentiments, overlaps)
    flags: list[str] = []
    if event.single_speaker:
        # One voice only (voicemail, IVR, one side of a call): there is no second party whose role
        # could be confused, so this is not a two-party call with unresolved roles.
        flags.append("single_speaker")
    elif event.roles_low_confidence:
        flags.append("roles_low_confidence")
    audio_uri = event.audio_uri
    if ports.audio_redactor is not None:
        # Before the engine: the analysis that leaves names the redacted copy, never the original.
        audio = await ports.audio_redactor.redact(event.audio_uri, redaction.audio_spans)
        audio_uri = audio.audio_uri
        flags.extend(audio.flags)

    analyzer = ports.analyzer
    analysis = None
    model = analyzer_model = analyzer.model
    prompt_version = analyzer.prompt_version
    usage = TokenUsage()
    if event.status is TranscriptStatus.NO_SPEECH or not utterances:
        # Nothing was said: no engine call (and no LLM bill) for a silent recording.
        status = AnalysisStatus.NO_SPEECH
    elif not analyzer.supports_language(event.language):
        status = AnalysisStatus.UNSUPPORTED_LANGUAGE
        flags.append(f"language_unsupported:{event.language}")
    else:
        status = AnalysisStatus.OK
        result = await analyzer.analyze(
            AnalysisRequest(
                call_id=event.call_id, utterances=utterances, sentiments=sentiments, language=event.language
            )
        )
        analysis = result.analysis
        model, prompt_version, usage = result.model, result.prompt_version, result.token_usage
        flags.extend(result.flags)
    # Categories and QA forms after metrics and the engine, so they read both (whichever engine ran).
    categories, scorecards = ports.quality.assess(
        utterances, sentiments, metrics, analysis, engine=analyzer.kind
    )

    return CallAnalyzed(
        call_id=event.call_id,
        recording_id=event.recording_id,
        source=event.source,
        status=status,
        language=event.language,
        flags=flags,
        analysis=analysis,
        metrics=metrics,
        redaction=RedactionInfo(enabled=ports.redactor.options.enabled, counts=redaction.counts),
        analyzer=analyzer.kind,
        analyzer_version=ANALYZER_VERSION,
        model=model or analyzer_model,
        prompt_version=prompt_version,
        token_usage=usage,
        stt_engine=event.engine,
        stt_model=event.model,
        audio_uri=audio_uri,
        audio_duration_s=event.audio_duration_s,
        utterances=[
            AnalyzedUtterance.of(u, round(s, 4)) for u, s in zip(utterances, sentiments, strict=True)
        ],
        metadata=event.metadata,
        received_at=event.received_at,
        analyzed_at=ports.clock(),
        timings=[
            *event.timings,
            StageTiming(stage="analyzer.analyze", seconds=round(time.perf_counter() - started, 4)),
        ],
        categories=categories,
        scorecards=scorecards,
    )
