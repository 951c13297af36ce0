"""LLM analyzer through httpx.MockTransport with bodies shaped like OpenAI chat-completions responses."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from callpipe.errors import DependencyUnavailableError, InvalidOutputError, RateLimitedError, TransientError
from callpipe.models import Role, Utterance
from callpipe_analyzer.config import load_config
from callpipe_analyzer.llm.analyzer import LLMAnalyzer
from callpipe_analyzer.llm.prompt import analysis_schema
from callpipe_analyzer.ports import AnalysisRequest
from callpipe_analyzer.settings import LLMSettings
from tests.unit.analyzer.openai_bodies import TOTAL_TOKENS, completion, error_body

GOOD = {
    "summary": "Caller was double charged; agent refunded it.",
    "sentiment": "negative",
    "sentiment_score": -0.4,
    "speaker_sentiment": [
        {"role": "caller", "sentiment": "negative", "score": -0.5},
        {"role": "agent", "sentiment": "positive", "score": 0.4},
    ],
    "intent": "billing_dispute",
    "key_topics": ["billing"],
    "action_items": [{"text": "Refund the duplicate charge", "owner": "agent"}],
    "satisfaction_score": 5,
    "escalation_risk": "medium",
    "churn_risk": "medium",
    "competitor_mentions": [{"name": "Verizon", "count": 1, "context": "Verizon is cheaper."}],
    "custom_answers": [{"question_id": "offered_upgrade", "answer": "no", "evidence": None}],
}


class Recorder:
    def __init__(self, responses: list[httpx.Response]) -> None:
        self.responses = responses
        self.requests: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path.endswith("/chat/completions")
        self.requests.append(json.loads(request.content))
        return self.responses.pop(0)


def make(responses: list[httpx.Response], **settings: Any) -> tuple[LLMAnalyzer, Recorder, list[float]]:
    recorder = Recorder(responses)
    slept: list[float] = []

    async def sleep(s: float) -> None:
        slept.append(s)

    client = httpx.AsyncClient(transport=httpx.MockTransport(recorder))
    llm = LLMAnalyzer(
        LLMSettings(base_url="http://llm.test/v1", api_key="sk-test", **settings),
        load_config(),
        http_client=client,
        sleep=sleep,
    )
    return llm, recorder, slept


def request(n: int = 2) -> AnalysisRequest:
    utts = [
        Utterance(
            role=Role.CALLER if i % 2 else Role.AGENT,
            speaker=f"ch{i % 2}",
            start_s=i * 3.0,
            end_s=i * 3.0 + 2.5,
            text=f"Turn {i}: I was charged twice for my bill this month.",
        )
        for i in range(n)
    ]
    return AnalysisRequest(call_id="CA1", utterances=utts, sentiments=[0.0] * n, language="en")


async def test_structured_output_request_and_usage() -> None:
    llm, rec, _ = make([httpx.Response(200, json=completion(json.dumps(GOOD)))])
    result = await llm.analyze(request())
    assert result.analysis.intent == "billing_dispute"
    assert result.analysis.competitor_mentions[0].name == "Verizon"
    assert result.token_usage.total_tokens == TOTAL_TOKENS
    assert result.prompt_version.startswith("llm-2+cfg.")
    sent = rec.requests[0]
    fmt = sent["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    schema = fmt["json_schema"]["schema"]
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == set(schema["properties"])
    assert "billing_dispute" in schema["properties"]["intent"]["enum"]
    assert "Turn 1" in sent["messages"][1]["content"]
    assert result.analysis.churn_risk.value == "medium"
    # The model is asked for churn as a risk of its own, defined apart from escalation.
    assert "churn_risk" in schema["required"]
    churn_ref = schema["properties"]["churn_risk"]["$ref"].rsplit("/", 1)[-1]
    assert schema["$defs"][churn_ref]["enum"] == ["low", "medium", "high"]
    assert "churn_risk (the caller may leave)" in sent["messages"][0]["content"]


def test_schema_closes_every_object() -> None:
    def walk(node: Any) -> None:
        if isinstance(node, dict):
            assert "default" not in node
            if node.get("type") == "object" and "properties" in node:
                assert node["additionalProperties"] is False
                assert set(node["required"]) == set(node["properties"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(analysis_schema(load_config()))


async def test_invalid_json_gets_one_repair() -> None:
    llm, rec, _ = make(
        [
            httpx.Response(200, json=completion('{"summary": "cut off')),
            httpx.Response(200, json=completion(json.dumps(GOOD))),
        ]
    )
    result = await llm.analyze(request())
    assert result.analysis.intent == "billing_dispute"
    assert len(rec.requests) == 2
    repair = rec.requests[1]["messages"]
    assert repair[-2] == {"role": "assistant", "content": '{"summary": "cut off'}
    assert "invalid" in repair[-1]["content"]
    assert result.token_usage.total_tokens == 2 * TOTAL_TOKENS


async def test_invalid_twice_dead_letters_with_reason() -> None:
    bad = dict(GOOD, intent="not_a_label")
    llm, rec, _ = make([httpx.Response(200, json=completion(json.dumps(bad)))] * 2)
    with pytest.raises(InvalidOutputError, match="after one repair"):
        await llm.analyze(request())
    assert len(rec.requests) == 2


async def test_schema_violation_is_repaired() -> None:
    bad = dict(GOOD, satisfaction_score=42)
    llm, _, _ = make(
        [
            httpx.Response(200, json=completion(json.dumps(bad))),
            httpx.Response(200, json=completion(json.dumps(GOOD))),
        ]
    )
    assert (await llm.analyze(request())).analysis.satisfaction_score == 5


async def test_refusal_is_permanent() -> None:
    llm, rec, _ = make(
        [httpx.Response(200, json=completion(None, refusal="I'm sorry, I can't help with that."))]
    )
    with pytest.raises(InvalidOutputError, match="refused"):
        await llm.analyze(request())
    assert len(rec.requests) == 1


async def test_429_honours_retry_after_then_succeeds() -> None:
    limited = httpx.Response(
        429,
        headers={"retry-after": "2"},
        json=error_body("Rate limit reached for gpt-4o-mini", "requests", "rate_limit_exceeded"),
    )
    llm, rec, slept = make([limited, httpx.Response(200, json=completion(json.dumps(GOOD)))])
    await llm.analyze(request())
    assert slept == [2.0]
    assert len(rec.requests) == 2


async def test_429_exhausted_raises_rate_limited_with_retry_after() -> None:
    limited = httpx.Response(
        429,
        headers={"retry-after": "1"},
        json=error_body("Rate limit reached", "requests", "rate_limit_exceeded"),
    )
    llm, _, slept = make([limited] * 3, max_retries=2)
    with pytest.raises(RateLimitedError) as info:
        await llm.analyze(request())
    assert info.value.retry_after == 1.0
    assert slept == [1.0, 1.0]


async def test_long_retry_after_goes_back_to_runner() -> None:
    limited = httpx.Response(
        429,
        headers={"retry-after": "120"},
        json=error_body("Rate limit reached", "tokens", "rate_limit_exceeded"),
    )
    llm, _, slept = make([limited])
    with pytest.raises(RateLimitedError):
        await llm.analyze(request())
    assert slept == []


async def test_500_is_transient() -> None:
    err = httpx.Response(500, json=error_body("The server had an error", "server_error", None))
    llm, rec, slept = make([err] * 2, max_retries=1)
    with pytest.raises(TransientError, match="500"):
        await llm.analyze(request())
    assert len(rec.requests) == 2 and slept == [0.5]


async def test_bad_key_pauses_instead_of_dead_lettering() -> None:
    err = httpx.Response(
        401, json=error_body("Incorrect API key provided", "invalid_request_error", "invalid_api_key")
    )
    llm, _, _ = make([err])
    with pytest.raises(DependencyUnavailableError):
        await llm.analyze(request())


async def test_long_transcript_is_chunked_and_merged() -> None:
    first = dict(GOOD, escalation_risk="low", churn_risk="high", satisfaction_score=7)
    second = dict(
        GOOD,
        intent="cancellation",
        escalation_risk="high",
        churn_risk="low",
        satisfaction_score=2,
        competitor_mentions=[{"name": "Verizon", "count": 2, "context": None}],
    )
    responses = [httpx.Response(200, json=completion(json.dumps(first)))]
    responses += [httpx.Response(200, json=completion(json.dumps(second)))] * 20
    llm, rec, _ = make(responses, context_tokens=5_200, max_output_tokens=1_000)
    result = await llm.analyze(request(400))
    assert len(rec.requests) > 1
    assert "chunked" in result.flags
    assert result.analysis.intent == "billing_dispute"  # the reason is stated early
    assert result.analysis.escalation_risk.value == "high"  # worst part wins
    assert result.analysis.churn_risk.value == "high"  # for churn too, even when it came first
    assert result.analysis.satisfaction_score == 2  # how it ended
    assert result.analysis.competitor_mentions[0].count == 1 + 2 * (len(rec.requests) - 1)
    assert result.token_usage.total_tokens == TOTAL_TOKENS * len(rec.requests)
    assert "part 1 of" in rec.requests[0]["messages"][0]["content"]
