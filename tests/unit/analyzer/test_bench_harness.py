"""The analyzer benchmark's fixed-latency OpenAI-compatible server (a harness, not the product)."""

from __future__ import annotations

import asyncio
import time

import httpx

from callpipe.models import Role, Utterance
from callpipe_analyzer.config import load_config
from callpipe_analyzer.llm.analyzer import LLMAnalyzer
from callpipe_analyzer.ports import AnalysisRequest
from callpipe_analyzer.settings import LLMSettings
from callpipe_bench.analyzer_bench import FixedLatencyLLM, five_minute_transcript


def _request(call_id: str) -> AnalysisRequest:
    utts = [Utterance(role=Role.CALLER, speaker="ch0", start_s=0, end_s=2, text="I was charged twice.")]
    return AnalysisRequest(call_id=call_id, utterances=utts, sentiments=[0.0])


async def test_answers_are_valid_structured_output_after_the_fixed_latency() -> None:
    with FixedLatencyLLM(latency_s=0.3) as server:
        async with httpx.AsyncClient() as http:
            llm = LLMAnalyzer(
                LLMSettings(base_url=server.base_url, api_key="bench", model="bench"),
                load_config(),
                http_client=http,
            )
            started = time.monotonic()
            # Eight concurrent requests take one latency, not eight: the harness serves them in parallel.
            results = await asyncio.gather(*(llm.analyze(_request(f"CA{i}")) for i in range(8)))
            elapsed = time.monotonic() - started
            missing = await http.post(server.base_url.replace("/v1", "/nope"), json={})
    assert all(r.analysis.intent == "billing_dispute" for r in results)
    assert results[0].token_usage.total_tokens == 1050
    assert 0.3 <= elapsed < 1.5
    assert server.requests == 9
    assert missing.status_code == 404


def test_five_minute_transcript_is_five_minutes_of_two_party_speech() -> None:
    event = five_minute_transcript()
    assert 300 <= event.audio_duration_s < 360
    assert {u.role for u in event.utterances} == {Role.CALLER, Role.AGENT}
