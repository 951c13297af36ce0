"""The analyzer stage with the LLM engine behind the fault harness, on the real broker.

Every call is either analyzed (after in-call retries and runner retries) or dead-lettered with
its reason after the configured attempts; none is lost, none is produced twice.
"""

from __future__ import annotations

import json
import re
import uuid

import httpx
import pytest

from callpipe.avro import LocalSchemaRegistry
from callpipe.avro.serde import AvroSerde
from callpipe.models import CallAnalyzed, TranscriptReady
from callpipe.runner import MessageStage, StageRunner
from callpipe.settings import KafkaSettings, RunnerSettings
from callpipe_analyzer.config import load_config
from callpipe_analyzer.llm.analyzer import LLMAnalyzer
from callpipe_analyzer.ports import AnalyzerPorts
from callpipe_analyzer.redaction import Redactor, RedactorOptions
from callpipe_analyzer.sentiment import SentimentScorer
from callpipe_analyzer.settings import LLMSettings
from callpipe_analyzer.stage import analyze
from callpipe_tools.examples import example_transcript
from callpipe_tools.local import TopicFactory
from callpipe_tools.testing.faults import Fault, FaultInjector
from tests.integration.faults.conftest import Until, produce, read_all
from tests.integration.faults.fault_support import assert_replayable, dead_letters, run_until_settled
from tests.unit.analyzer.openai_bodies import completion

RUNNER = RunnerSettings(
    max_in_flight=4, max_attempts=3, backoff_initial_s=0.05, backoff_max_s=0.2, commit_interval_s=0.2
)
LLM = LLMSettings(api_key="sk-test-faults", max_retries=1, retry_after_cap_s=2.0, timeout_s=5.0)

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
    "competitor_mentions": [],
    "custom_answers": [],
}

# Eventually succeeds (within max_retries in the adapter × max_attempts in the runner) …
RECOVERS = {
    "ok": [],
    "throttled": [Fault.rate_limited(0.2)],
    "server-errors": [Fault.server_error(500), Fault.server_error(503)],
    "timeouts": [Fault.timeout(), Fault.timeout()],
    "truncated": [Fault.truncated()],
    "disconnect": [Fault.disconnect()],
    "mixed": [Fault.rate_limited(0.1), Fault.server_error(502), Fault.timeout(), Fault.truncated()],
}
# … never succeeds: dead-lettered with the reason of the last failure.
NEVER = {
    "always-500": Fault.always(Fault.server_error(500)),
    "always-429": Fault.always(Fault.rate_limited(0.1)),
    "always-timeout": Fault.always(Fault.timeout()),
}
_MARKER = re.compile(r"zqmark([a-z0-9-]+)zq")


def upstream(request: httpx.Request) -> httpx.Response:
    assert request.url.path.endswith("/chat/completions")
    return httpx.Response(200, json=completion(json.dumps(GOOD)))


def marker(request: httpx.Request) -> str:
    found = _MARKER.search(request.content.decode())
    return found.group(1) if found else "?"


def transcript(name: str) -> TranscriptReady:
    event = example_transcript(f"call-{name}")
    first = event.utterances[0]
    tagged = first.model_copy(update={"text": f"{first.text} Ticket zqmark{name}zq."})
    return event.model_copy(update={"utterances": [tagged, *event.utterances[1:]]})


@pytest.mark.timeout(180)
async def test_llm_faults_end_in_an_analysis_or_a_reasoned_dead_letter(
    kafka_bootstrap: str, new_topic: TopicFactory, until: Until
) -> None:
    source, sink = new_topic(2), new_topic(1)
    dlq = f"faults.dlq.{uuid.uuid4().hex[:8]}"
    registry = LocalSchemaRegistry.from_directory()
    transcripts = AvroSerde(TranscriptReady, registry, "faults-transcripts-value")
    analyses = AvroSerde(CallAnalyzed, registry, "faults-analyses-value")
    plan = {**RECOVERS, **{k: [v] for k, v in NEVER.items()}}
    names = list(plan)
    produce(kafka_bootstrap, source, [(f"call-{n}", transcripts.serialize(transcript(n))) for n in names])

    injector = FaultInjector(upstream=upstream, key=marker, plan=plan)
    async with httpx.AsyncClient(transport=injector.transport()) as http:
        ports = AnalyzerPorts(
            analyzer=LLMAnalyzer(LLM, load_config(None), http_client=http),
            redactor=Redactor(RedactorOptions()),
            sentiment=SentimentScorer(),
        )

        async def handler(event: TranscriptReady) -> CallAnalyzed:
            return await analyze(event, ports)

        stage = MessageStage(
            name="analyzer",
            input_topic=source,
            decode=transcripts.deserialize,
            process=handler,
            output_topic=sink,
            encode=analyses.serialize,
            key=lambda out: out.call_id,
        )
        runner = StageRunner(
            stage,
            kafka=KafkaSettings(bootstrap_servers=kafka_bootstrap),
            runner=RUNNER,
            dead_letter_topic=dlq,
        )
        budget = (LLM.max_retries + 1) * RUNNER.max_attempts
        await run_until_settled(runner, injector, recovers=RECOVERS, never=NEVER, budget=budget, until=until)

    produced = read_all(kafka_bootstrap, sink, len(RECOVERS), timeout=30)
    analyzed = [analyses.deserialize(m.value() or b"") for m in produced]
    assert sorted(a.call_id for a in analyzed) == sorted(f"call-{n}" for n in RECOVERS)
    assert all(a.analysis is not None and a.analysis.intent == "billing_dispute" for a in analyzed)

    dead = dead_letters(kafka_bootstrap, dlq, len(NEVER))
    assert sorted(dead) == sorted(f"call-{n}" for n in NEVER), dead
    assert dead["call-always-500"].error_class == "TransientError"
    assert "500" in (dead["call-always-500"].message or "")
    assert dead["call-always-429"].error_class == "RateLimitedError"
    assert dead["call-always-timeout"].error_class == "TransientError"
    assert "timed out" in (dead["call-always-timeout"].message or "")
    assert_replayable(dead, transcripts, RUNNER.max_attempts)
    # The harness really injected what the plan says (a test that cannot fail proves nothing).
    assert injector.attempts("mixed") == 5
    assert injector.attempts("ok") == 1
