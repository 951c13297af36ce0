"""Settings → adapters → ports. Shared by ``__main__``, the ``callpipe analyze`` command and tools."""

from __future__ import annotations

import httpx

from callpipe.errors import InvalidInputError
from callpipe.store import RecordingStore
from callpipe_analyzer.audio_redaction import AudioRedactionOptions, AudioRedactor
from callpipe_analyzer.config import load_config
from callpipe_analyzer.ports import Analyzer, AnalyzerPorts
from callpipe_analyzer.quality import QualityRules
from callpipe_analyzer.redaction import Redactor, RedactorOptions
from callpipe_analyzer.sentiment import SentimentScorer
from callpipe_analyzer.settings import AnalyzerSettings

__all__ = ["build_analyzer", "build_ports"]


def build_analyzer(settings: AnalyzerSettings, *, http_client: httpx.AsyncClient | None = None) -> Analyzer:
    config = load_config(settings.config_path)
    if settings.engine == "llm":
        from callpipe_analyzer.llm.analyzer import LLMAnalyzer

        return LLMAnalyzer(settings.llm, config, http_client=http_client)
    from callpipe_analyzer.offline.analyzer import OfflineAnalyzer
    from callpipe_analyzer.offline.supervised import SupervisedModels

    models = None
    if settings.offline_model_path is not None:
        models = SupervisedModels.load(settings.offline_model_path)
        if models is None:
            raise InvalidInputError(
                f"ANALYZER_OFFLINE_MODEL_PATH: no such file {settings.offline_model_path}"
            )
    return OfflineAnalyzer(config, models=models)


def build_ports(
    settings: AnalyzerSettings,
    *,
    http_client: httpx.AsyncClient | None = None,
    recordings: RecordingStore | None = None,
) -> AnalyzerPorts:
    """The analyze stage's ports; ``recordings`` (the archive the transcriber writes) turns on
    the audio redaction, when the settings keep it on."""
    r, a = settings.redaction, settings.audio_redaction
    audio = None
    if recordings is not None and r.enabled and a.enabled:
        audio = AudioRedactor(
            recordings,
            AudioRedactionOptions(
                kinds=frozenset(a.kinds), mode=a.mode, pad_s=a.pad_s, keep_original=a.keep_original
            ),
        )
    return AnalyzerPorts(
        audio_redactor=audio,
        analyzer=build_analyzer(settings, http_client=http_client),
        redactor=Redactor(
            RedactorOptions(
                enabled=r.enabled,
                cards=r.cards,
                ssn=r.ssn,
                email=r.email,
                phone=r.phone,
                unverified_card_digits=r.unverified_card_digits,
            )
        ),
        sentiment=SentimentScorer(),
        quality=QualityRules.from_config(load_config(settings.config_path)),
    )
