"""Settings → adapters → ports. Shared by ``__main__``, the ``callpipe analyze`` command and tools."""

from __future__ import annotations

import httpx

from callpipe.errors import InvalidInputError
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


def build_ports(settings: AnalyzerSettings, *, http_client: httpx.AsyncClient | None = None) -> AnalyzerPorts:
    r = settings.redaction
    return AnalyzerPorts(
        analyzer=build_analyzer(settings, http_client=http_client),
        redactor=Redactor(
            RedactorOptions(enabled=r.enabled, cards=r.cards, ssn=r.ssn, email=r.email, phone=r.phone)
        ),
        sentiment=SentimentScorer(),
        quality=QualityRules.from_config(load_config(settings.config_path)),
    )
