"""The transcriber stage with the Deepgram engine behind the fault harness, on the real broker.

The service's own stage (``build_stage`` / ``build_ports`` from its entry point) runs under the
stage runner; Deepgram is the fault harness answering with bodies shaped as Deepgram documents
them (the pre-recorded multichannel response, and ``{"err_code", "err_msg", "request_id"}`` with
``Retry-After`` on 429). The adapter does not retry by itself (the runner owns the policy), so a
call has ``max_attempts`` requests: every call is transcribed after the runner's retries, or
dead-lettered with the reason of its last failure once those attempts are spent.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import pytest
from pydantic import SecretStr

from callpipe.avro import LocalSchemaRegistry
from callpipe.avro.serde import AvroSerde
from callpipe.models import (
    CallMetadata,
    ChannelRole,
    Direction,
    RecordingReady,
    RecordingSource,
    Role,
    TranscriptReady,
    TranscriptStatus,
)
from callpipe.runner import StageRunner
from callpipe.settings import KafkaSettings, RunnerSettings, TopicSettings
from callpipe.store import LocalRecordingStore
from callpipe_tools.local import TopicFactory
from callpipe_tools.synthetic.calls import write_wav
from callpipe_tools.testing.faults import Fault, FaultInjector
from callpipe_transcriber.__main__ import build_ports, build_stage
from callpipe_transcriber.engines.deepgram import DeepgramEngine, DeepgramOptions
from callpipe_transcriber.settings import TranscriberSettings
from tests.integration.faults.conftest import Until, produce, read_all
from tests.integration.faults.fault_support import assert_replayable, dead_letters, run_until_settled
from tests.unit.transcriber.deepgram_bodies import MULTICHANNEL, error_body

# deepgram-sdk imports websockets' legacy module, which warns on import (filterwarnings=error).
pytestmark = pytest.mark.filterwarnings("ignore:websockets:DeprecationWarning")

RUNNER = RunnerSettings(
    max_in_flight=4, max_attempts=3, backoff_initial_s=0.05, backoff_max_s=0.2, commit_interval_s=0.2
)

# Eventually succeeds within the runner's 3 attempts (at most 2 faults each) …
RECOVERS = {
    "ok": [],
    "throttled": [Fault.rate_limited(0.2)],
    "server-errors": [Fault.server_error(500), Fault.server_error(503)],
    "timeouts": [Fault.timeout(), Fault.timeout()],
    "truncated": [Fault.truncated()],
    "disconnect": [Fault.disconnect()],
    "mixed": [Fault.rate_limited(0.1), Fault.truncated()],
}
# … never succeeds: dead-lettered with the reason of the last failure.
NEVER = {
    "always-503": Fault.always(Fault.server_error(503)),
    "always-429": Fault.always(Fault.rate_limited(0.1)),
    "always-timeout": Fault.always(Fault.timeout()),
    "always-truncated": Fault.always(Fault.truncated()),
}


def call_audio(name: str, path: Path) -> bytes:
    """Six seconds of 8 kHz dual-channel audio, different for every call (its digest is how the
    harness tells the calls apart: Deepgram receives the audio bytes as they are). Each party's
    channel carries a noise burst where the documented body (``MULTICHANNEL``) puts its words
    (agent on channel 1 at 0.5-1.4 s, caller on channel 0 at 3.1-4.2 s), longer than the channel
    planner's minimum speech for a party, so the call goes to Deepgram as two parties and no word
    is taken for the other channel's bleed."""
    rng = np.random.default_rng(int(hashlib.sha256(name.encode()).hexdigest()[:8], 16))
    rate = 8000
    t = np.arange(6 * rate) / rate
    caller = (t >= 2.8) & (t < 4.6)
    agent = (t >= 0.3) & (t < 2.0)
    stereo = np.stack([rng.normal(0, 3000, t.size) * caller, rng.normal(0, 3000, t.size) * agent], axis=1)
    write_wav(path, np.clip(stereo, -32768, 32767).astype(np.int16), rate)
    return path.read_bytes()


def deepgram_shaped(injector: FaultInjector) -> httpx.MockTransport:
    """The harness's transport with its 429/5xx bodies in Deepgram's documented error shape
    (the status and ``Retry-After`` header are the harness's own)."""

    async def handle(request: httpx.Request) -> httpx.Response:
        response = await injector.handle(request)
        if response.status_code == 429 or response.status_code >= 500:
            headers = {k: v for k, v in response.headers.items() if k.lower() == "retry-after"}
            return httpx.Response(
                response.status_code, json=error_body(response.status_code), headers=headers, request=request
            )
        return response

    return httpx.MockTransport(handle)


def upstream(request: httpx.Request) -> httpx.Response:
    assert request.url.path == "/v1/listen"
    assert request.url.params["multichannel"] == "true"
    assert request.headers["authorization"] == "Token dg-test-faults"
    return httpx.Response(200, json=MULTICHANNEL)


@pytest.mark.timeout(180)
async def test_deepgram_faults_end_in_a_transcript_or_a_reasoned_dead_letter(
    kafka_bootstrap: str, new_topic: TopicFactory, until: Until, tmp_path: Path
) -> None:
    topics = TopicSettings(
        recordings=new_topic(2),
        transcripts=new_topic(1),
        dead_letter_prefix=f"faults-dlq-{uuid.uuid4().hex[:8]}",
    )
    dlq = topics.dead_letter("transcriber")
    registry = LocalSchemaRegistry.from_directory()
    recordings = AvroSerde(RecordingReady, registry, "faults-recordings-value")
    transcripts = AvroSerde(TranscriptReady, registry, "faults-transcripts-value")
    store = LocalRecordingStore(tmp_path / "store")
    plan = {**RECOVERS, **{k: [v] for k, v in NEVER.items()}}
    by_digest: dict[str, str] = {}
    events = []
    for name in plan:
        data = call_audio(name, tmp_path / f"{name}.wav")
        by_digest[hashlib.sha256(data).hexdigest()] = name
        uri = await store.put(f"{name}/call.wav", data, "audio/wav")
        event = RecordingReady(
            call_id=f"call-{name}",
            recording_id=f"rec-{name}",
            source=RecordingSource.UPLOAD,
            audio_uri=uri,
            content_type="audio/wav",
            channel_count=2,
            channel_roles=[ChannelRole(channel=0, role=Role.CALLER), ChannelRole(channel=1, role=Role.AGENT)],
            metadata=CallMetadata(direction=Direction.INBOUND),
            received_at=datetime.now(UTC),
        )
        events.append((event.call_id, recordings.serialize(event)))
    produce(kafka_bootstrap, topics.recordings, events)

    injector = FaultInjector(
        upstream=upstream,
        key=lambda request: by_digest.get(hashlib.sha256(request.content).hexdigest(), "?"),
        plan=plan,
    )
    settings = TranscriberSettings(engine="deepgram", deepgram_api_key=SecretStr("dg-test-faults"))
    async with httpx.AsyncClient(transport=deepgram_shaped(injector)) as http:
        engine = DeepgramEngine(
            DeepgramOptions(api_key=SecretStr("dg-test-faults"), timeout_s=5.0), http=http
        )
        stage = build_stage(topics, recordings, transcripts, build_ports(settings, http, store, engine))
        runner = StageRunner(
            stage,
            kafka=KafkaSettings(bootstrap_servers=kafka_bootstrap),
            runner=RUNNER,
            dead_letter_topic=dlq,
        )
        await run_until_settled(
            runner, injector, recovers=RECOVERS, never=NEVER, budget=RUNNER.max_attempts, until=until
        )

    produced = [
        transcripts.deserialize(m.value() or b"")
        for m in read_all(kafka_bootstrap, topics.transcripts, len(RECOVERS))
    ]
    assert sorted(t.call_id for t in produced) == sorted(f"call-{n}" for n in RECOVERS)
    for transcript in produced:  # the documented body, parsed: roles from the channel map
        assert transcript.status is TranscriptStatus.OK
        assert transcript.engine == "deepgram"
        assert [(u.role, u.text) for u in transcript.utterances] == [
            (Role.AGENT, "Thank you for calling."),
            (Role.CALLER, "I was charged twice."),
        ]

    dead = dead_letters(kafka_bootstrap, dlq, len(NEVER))
    assert sorted(dead) == sorted(f"call-{n}" for n in NEVER), dead
    assert dead["call-always-503"].error_class == "TransientError"
    assert "503" in (dead["call-always-503"].message or "")
    assert "SERVICE_UNAVAILABLE" in (dead["call-always-503"].message or "")  # Deepgram's body, kept
    assert dead["call-always-429"].error_class == "RateLimitedError"
    assert dead["call-always-timeout"].error_class == "TransientError"
    assert "timed out" in (dead["call-always-timeout"].message or "")
    assert dead["call-always-truncated"].error_class == "TransientError"
    assert "not valid JSON" in (dead["call-always-truncated"].message or "")
    assert_replayable(dead, recordings, RUNNER.max_attempts)
    # The harness really injected what the plan says (a test that cannot fail proves nothing).
    assert injector.attempts("ok") == 1
    assert injector.attempts("mixed") == 3
    assert injector.attempts("timeouts") == 3
    assert all(injector.attempts(k) == RUNNER.max_attempts for k in NEVER)
