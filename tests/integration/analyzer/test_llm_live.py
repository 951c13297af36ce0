"""Live LLM evaluation: the real LLM analyzer against a real OpenAI-compatible endpoint.

Runs only when ``OPENAI_API_KEY`` (api.openai.com, or ``ANALYZER_LLM_BASE_URL`` if also set) or
``ANALYZER_LLM_BASE_URL`` (vLLM, Ollama, Azure OpenAI … with ``ANALYZER_LLM_MODEL``) is set; other
``ANALYZER_LLM_*`` settings apply as in the service. It sends eight dev-split calls of the labelled
set through the analyzer stage (redaction first) and checks that every answer validates against
the schema and that the intents are mostly right. The full figures come from
``python -m callpipe_bench.analyzer_eval --engine llm``.
"""

from __future__ import annotations

import os

import httpx
import pytest
from pydantic import SecretStr

from callpipe.models import AnalysisStatus
from callpipe_analyzer.config import load_config
from callpipe_analyzer.llm.analyzer import LLMAnalyzer
from callpipe_analyzer.ports import AnalyzerPorts
from callpipe_analyzer.redaction import Redactor, RedactorOptions
from callpipe_analyzer.sentiment import SentimentScorer
from callpipe_analyzer.settings import LLMSettings
from callpipe_analyzer.stage import analyze
from callpipe_bench.analyzer_eval import load_calls, transcript_from_turns

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(
        not (os.environ.get("OPENAI_API_KEY") or os.environ.get("ANALYZER_LLM_BASE_URL")),
        reason="live LLM eval: set OPENAI_API_KEY or ANALYZER_LLM_BASE_URL to run it",
    ),
]

CALLS = 8


async def test_live_llm_analyses_validate_and_intents_are_mostly_right() -> None:
    settings = LLMSettings()
    if settings.api_key is None and os.environ.get("OPENAI_API_KEY"):
        settings.api_key = SecretStr(os.environ["OPENAI_API_KEY"])
    config = load_config()
    dev = [c for c in load_calls() if c.get("split", "dev") == "dev"]
    # One call per intent first, so the sample spans the taxonomy.
    by_intent: dict[str, dict[str, object]] = {}
    for call in dev:
        by_intent.setdefault(call["labels"]["intent"], call)
    sample = list(by_intent.values())[:CALLS]
    async with httpx.AsyncClient(timeout=settings.timeout_s) as http:
        llm = LLMAnalyzer(settings, config, http_client=http)
        ports = AnalyzerPorts(analyzer=llm, redactor=Redactor(RedactorOptions()), sentiment=SentimentScorer())
        right = 0
        for call in sample:
            result = await analyze(transcript_from_turns(str(call["id"]), call["turns"]), ports)  # type: ignore[arg-type]
            assert result.status is AnalysisStatus.OK
            assert result.analysis is not None
            assert result.analysis.intent in config.intents
            assert result.token_usage.total_tokens > 0
            assert result.model == settings.model
            right += result.analysis.intent == call["labels"]["intent"]  # type: ignore[index]
    assert right >= 0.75 * len(sample), f"only {right}/{len(sample)} intents right"
