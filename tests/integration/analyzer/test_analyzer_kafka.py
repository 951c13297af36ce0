"""The analyze stage on the real broker through the real stage runner.

Offline engine for the happy path (redaction visible in the produced event); the LLM engine over
``httpx.MockTransport`` with bodies shaped like OpenAI chat-completions responses for the
429 → retry, invalid-output → dead-letter paths; undecodable and wrong-schema bytes → dead-letter.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from callpipe.avro import AvroSerde, LocalSchemaRegistry
from callpipe.models import AnalysisStatus, RecordingReady, TranscriptReady
from callpipe_analyzer.config import load_config
from callpipe_analyzer.llm.analyzer import LLMAnalyzer
from callpipe_analyzer.offline.analyzer import OfflineAnalyzer
from callpipe_analyzer.ports import AnalyzerPorts
from callpipe_analyzer.redaction import Redactor, RedactorOptions
from callpipe_analyzer.sentiment import SentimentScorer
from callpipe_analyzer.settings import LLMSettings
from callpipe_bench.analyzer_eval import transcript_from_turns
from callpipe_tools.examples import example_recording
from tests.integration.analyzer.analyzer_it_support import Topics, headers_of, read_all, run_until_finished
from tests.unit.analyzer.openai_bodies import TOTAL_TOKENS, completion

CARD = "4111 1111 1111 1111"

TURNS = [
    ["agent", "Thank you for calling Acme, this is Dana. How can I help?"],
    ["caller", "Hi, I was charged twice for my internet bill this month and I want it fixed."],
    ["agent", "I'm sorry about that. I can refund the duplicate charge. Which card should I use?"],
    ["caller", f"Put it back on my Visa, {CARD}, and send the receipt to jane.doe@example.com please."],
    ["agent", "Done, I'll send the confirmation by email. You'll see the refund in three to five days."],
    ["caller", "Great, thanks so much for your help."],
]

ANALYSIS: dict[str, Any] = {
    "summary": "Caller was double charged; agent refunded the duplicate charge.",
    "sentiment": "neutral",
    "sentiment_score": 0.1,
    "speaker_sentiment": [
        {"role": "caller", "sentiment": "neutral", "score": 0.1},
        {"role": "agent", "sentiment": "positive", "score": 0.5},
    ],
    "intent": "billing_dispute",
    "key_topics": ["billing"],
    "action_items": [{"text": "Refund the duplicate charge", "owner": "agent"}],
    "satisfaction_score": 7,
    "escalation_risk": "low",
    "competitor_mentions": [],
    "custom_answers": [{"question_id": "offered_upgrade", "answer": "no", "evidence": None}],
}


class ScriptedLLM:
    """An httpx transport answering chat-completions requests from a script, recording arrival times."""

    def __init__(self, responses: list[httpx.Response]) -> None:
        self.responses = responses
        self.requests: list[tuple[float, dict[str, Any]]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path.endswith("/chat/completions")
        self.requests.append((time.monotonic(), json.loads(request.content)))
        return self.responses.pop(0)


def llm_ports(script: ScriptedLLM) -> AnalyzerPorts:
    client = httpx.AsyncClient(transport=httpx.MockTransport(script))
    analyzer = LLMAnalyzer(
        LLMSettings(base_url="http://llm.test/v1", api_key="sk-test", model="gpt-4o-mini"),
        load_config(),
        http_client=client,
    )
    return AnalyzerPorts(analyzer=analyzer, redactor=Redactor(RedactorOptions()), sentiment=SentimentScorer())


@pytest.fixture(scope="module")
def offline_ports() -> AnalyzerPorts:
    return AnalyzerPorts(
        analyzer=OfflineAnalyzer(load_config()),
        redactor=Redactor(RedactorOptions()),
        sentiment=SentimentScorer(),
    )


def event(call_id: str) -> TranscriptReady:
    return transcript_from_turns(call_id, TURNS)


async def test_transcript_in_analysis_out_with_redacted_utterances(
    topics: Topics, offline_ports: AnalyzerPorts
) -> None:
    topics.send(event("CA-it-offline-1"))
    await run_until_finished(topics.runner(offline_ports), 1)

    records = read_all(topics.bootstrap, topics.analyses, 1)
    assert len(records) == 1
    assert records[0].key() == b"CA-it-offline-1"
    out = topics.analysis_serde.deserialize(records[0].value() or b"")
    assert out.status is AnalysisStatus.OK
    assert out.analyzer == "offline"
    assert out.analysis is not None
    assert out.analysis.intent == "billing_dispute"
    texts = " ".join(u.text for u in out.utterances)
    assert CARD.replace(" ", "") not in texts.replace(" ", "")
    assert "jane.doe@example.com" not in texts
    assert "[CARD_NUMBER]" in texts and "[EMAIL]" in texts
    assert out.redaction.enabled
    assert out.redaction.counts.get("card_number", 0) >= 1
    assert out.redaction.counts.get("email", 0) >= 1
    assert len(out.utterances) == len(TURNS)
    assert out.metrics.turn_count == len(TURNS)
    assert read_all(topics.bootstrap, topics.dead_letter, 0, timeout=1) == []


async def test_llm_429_with_retry_after_then_ok_is_processed(topics: Topics) -> None:
    script = ScriptedLLM(
        [
            httpx.Response(
                429,
                headers={"retry-after": "1"},
                json={
                    "error": {
                        "message": "Rate limit reached for gpt-4o-mini on requests per min (RPM).",
                        "type": "requests",
                        "param": None,
                        "code": "rate_limit_exceeded",
                    }
                },
            ),
            httpx.Response(200, json=completion(json.dumps(ANALYSIS))),
        ]
    )
    topics.send(event("CA-it-429"))
    await run_until_finished(topics.runner(llm_ports(script)), 1)

    records = read_all(topics.bootstrap, topics.analyses, 1)
    assert len(records) == 1
    out = topics.analysis_serde.deserialize(records[0].value() or b"")
    assert out.analysis is not None and out.analysis.intent == "billing_dispute"
    assert out.analyzer == "llm" and out.model == "gpt-4o-mini"
    assert out.token_usage.total_tokens == TOTAL_TOKENS
    assert len(script.requests) == 2
    assert script.requests[1][0] - script.requests[0][0] >= 0.95  # Retry-After honoured
    # What left the service for the LLM was redacted.
    prompt = json.dumps(script.requests[0][1]["messages"])
    assert CARD not in prompt and "4111111111111111" not in prompt and "jane.doe@example.com" not in prompt
    assert read_all(topics.bootstrap, topics.dead_letter, 0, timeout=1) == []


async def test_invalid_json_twice_is_dead_lettered_with_the_reason(topics: Topics) -> None:
    script = ScriptedLLM(
        [
            httpx.Response(200, json=completion('{"summary": "cut off')),
            httpx.Response(200, json=completion("Sure! Here is the analysis: intent=billing")),
        ]
    )
    original = event("CA-it-badjson")
    topics.send(original)
    await run_until_finished(topics.runner(llm_ports(script)), 1)

    assert len(script.requests) == 2  # the answer and one repair attempt, no more
    repair = script.requests[1][1]["messages"]
    assert repair[-1]["role"] == "user" and "invalid" in repair[-1]["content"]
    dead = read_all(topics.bootstrap, topics.dead_letter, 1)
    assert len(dead) == 1
    headers = headers_of(dead[0])
    assert headers["x-callpipe-error-class"] == "InvalidOutputError"
    assert "invalid after one repair" in headers["x-callpipe-error-message"]
    assert "not JSON" in headers["x-callpipe-error-message"]
    assert headers["x-callpipe-source-topic"] == topics.transcripts
    # The dead letter keeps the original bytes, so it can be replayed.
    assert topics.transcript_serde.deserialize(dead[0].value() or b"").call_id == "CA-it-badjson"
    assert read_all(topics.bootstrap, topics.analyses, 0, timeout=1) == []


async def test_wrong_schema_and_garbage_bytes_are_dead_lettered(
    topics: Topics, offline_ports: AnalyzerPorts
) -> None:
    # A RecordingReady (a valid Avro event of another contract) on the transcripts topic …
    recordings = AvroSerde(
        RecordingReady, LocalSchemaRegistry.from_directory(), f"{topics.transcripts}-value"
    )
    wrong: RecordingReady = example_recording("CA-it-wrong-schema")
    topics.send_raw("CA-it-wrong-schema", recordings.serialize(wrong))
    # … and bytes that are not Confluent-framed Avro at all.
    topics.send_raw("CA-it-garbage", b'{"call_id": "CA-it-garbage", "utterances": []}')
    await run_until_finished(topics.runner(offline_ports), 2)

    dead = {r.key(): headers_of(r) for r in read_all(topics.bootstrap, topics.dead_letter, 2)}
    assert set(dead) == {b"CA-it-wrong-schema", b"CA-it-garbage"}
    for headers in dead.values():
        assert headers["x-callpipe-error-class"] == "PoisonMessageError"
        assert headers["x-callpipe-attempts"] == "1"  # permanent: never retried
    assert "RecordingReady" in dead[b"CA-it-wrong-schema"]["x-callpipe-error-message"]
    assert read_all(topics.bootstrap, topics.analyses, 0, timeout=1) == []
