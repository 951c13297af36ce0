"""Bad inputs against the four RUNNING services (separate processes, real broker, real engines).

While the pipeline runs, garbage goes onto every topic a stage consumes:

- random bytes, and a well-framed Avro record of the wrong contract (what a misconfigured
  producer writes), on ``recordings`` (transcriber), ``transcripts`` (analyzer) and ``analyses``
  (sink): each must land on that stage's dead-letter topic, original bytes kept, with the
  ``x-callpipe-*`` reason headers;
- uploads through the ingest API: random bytes (refused 415 by the content sniffer: nothing
  stored, no event), a WAV cut off mid-upload (refused 422 "truncated" by ingest's decode check),
  and a silent call
  (stored with status ``no_speech``, no engine run).

Afterwards a good call still goes all the way to ClickHouse, every service is still alive and
exits cleanly, and the table holds exactly the good and the silent call.
"""

from __future__ import annotations

import json
import os
import time
import uuid
import wave
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from confluent_kafka import Consumer, Producer

from callpipe.avro import AvroSerde, LocalSchemaRegistry
from callpipe.models import CallAnalyzed, RecordingReady, Role
from callpipe_cli.localrun import DELIVERY_ENGINE_ENV, LocalPipeline, query_chdb, topic_env
from callpipe_tools.examples import example_analysis, example_recording
from callpipe_tools.synthetic.calls import CallScript, ScriptTurn, generate_call

pytestmark = pytest.mark.slow

STAGE_OF_TOPIC = {"recordings": "transcriber", "transcripts": "analyzer", "analyses": "sink"}
WAIT_S = 150.0


@pytest.fixture(scope="module")
def good_call(tmp_path_factory: pytest.TempPathFactory) -> Path:
    script = CallScript(
        call_id="badinput-good",
        turns=[
            ScriptTurn(role=Role.AGENT, text="Thank you for calling Acme, this is Jordan. How can I help?"),
            ScriptTurn(role=Role.CALLER, text="I was charged twice on my bill this month."),
        ],
    )
    return generate_call(script, tmp_path_factory.mktemp("badinput-audio"), sample_rate=8000).stereo_path


def _silent_wav(path: Path, seconds: float = 4.0, rate: int = 8000) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\x00" * int(seconds * rate) * 4)
    return path


def _truncated(good: Path, out: Path) -> Path:
    """The first 40 % of a real WAV: its header still declares the whole data chunk."""
    data = good.read_bytes()
    out.write_bytes(data[: int(len(data) * 0.4)])
    return out


@pytest.fixture
def pipeline(kafka_bootstrap: str, tmp_path: Path) -> Iterator[tuple[LocalPipeline, dict[str, str]]]:
    prefix = f"bad{uuid.uuid4().hex[:6]}"
    topics = {
        "recordings": f"{prefix}.recordings",
        "transcripts": f"{prefix}.transcripts",
        "analyses": f"{prefix}.analyses",
        "dlq": f"{prefix}.dlq",
    }
    env = {
        **topic_env(prefix),
        **DELIVERY_ENGINE_ENV,
        # A poison message must be dead-lettered at once; this bounds a mistaken retry loop too.
        "RUNNER_BACKOFF_MAX_S": "2",
    }
    local = LocalPipeline(kafka_bootstrap, tmp_path / "pipeline", extra_env=env)
    try:
        local.start()
        yield local, topics
    finally:
        local.stop()


def _wrong_contract_records() -> dict[str, bytes]:
    """Per topic: a valid, registered Avro record of ANOTHER contract, framed as the services frame."""
    registry = LocalSchemaRegistry.from_directory()
    analysis = AvroSerde(CallAnalyzed, registry, "badinput-value").serialize(example_analysis("CA-wrong-1"))
    recording = AvroSerde(RecordingReady, registry, "badinput-value").serialize(
        example_recording("CA-wrong-2")
    )
    return {"recordings": analysis, "transcripts": recording, "analyses": recording}


def _produce_garbage(bootstrap: str, topics: dict[str, str]) -> dict[str, dict[bytes, bytes]]:
    """Random bytes and a wrong-contract record onto every consumed topic; returns key → value."""
    wrong = _wrong_contract_records()
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    sent: dict[str, dict[bytes, bytes]] = {}
    for name in STAGE_OF_TOPIC:
        sent[name] = {
            f"random-{name}".encode(): os.urandom(512),
            f"wrong-schema-{name}".encode(): wrong[name],
        }
        for key, value in sent[name].items():
            producer.produce(topics[name], key=key, value=value)
    assert producer.flush(30) == 0
    return sent


def _read_all(bootstrap: str, topic: str, expected: int, timeout_s: float) -> list[object]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"badinput-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    records: list[object] = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None or message.error() is not None:
                continue
            records.append(message)
            if len(records) >= expected:
                # A short grace period: a duplicate or unexpected extra record would show up here.
                deadline = min(deadline, time.monotonic() + 2.0)
    finally:
        consumer.close()
    return records


def _upload(pipeline: LocalPipeline, path: Path, name: str) -> httpx.Response:
    metadata = {"channel_roles": ["caller", "agent"], "agent_id": "agent-bad", "queue": "support"}
    with path.open("rb") as audio:
        return httpx.post(
            f"{pipeline.ingest_url}/recordings",
            headers={"Authorization": f"Bearer {pipeline.api_token}"},
            files={"file": (name, audio, "audio/wav")},
            data={"metadata": json.dumps(metadata)},
            timeout=60,
        )


def _stored_status(pipeline: LocalPipeline, call_id: str) -> str | None:
    response = httpx.get(
        f"{pipeline.insights_url}/calls/{call_id}",
        headers={"Authorization": f"Bearer {pipeline.read_token}"},
        timeout=10,
    )
    if response.status_code == 404:
        return None
    response.raise_for_status()
    return str(response.json()["call"]["status"])


def test_garbage_on_every_topic_and_bad_audio_are_dead_lettered_and_the_pipeline_keeps_going(
    kafka_bootstrap: str,
    pipeline: tuple[LocalPipeline, dict[str, str]],
    good_call: Path,
    tmp_path: Path,
) -> None:
    local, topics = pipeline
    sent = _produce_garbage(kafka_bootstrap, topics)

    random_audio = tmp_path / "random.wav"
    random_audio.write_bytes(os.urandom(64 * 1024))
    refused = _upload(local, random_audio, "random.wav")
    assert refused.status_code == 415, refused.text
    assert "not a supported audio format" in refused.text

    # Truncation is caught at ingest now (decode check, issue 16): 422 before anything is kept.
    truncated = _upload(local, _truncated(good_call, tmp_path / "cut.wav"), "cut.wav")
    assert truncated.status_code == 422, truncated.text
    assert "truncated" in truncated.json()["detail"]
    silent = _upload(local, _silent_wav(tmp_path / "silent.wav"), "silent.wav")
    assert silent.status_code == 201, silent.text
    silent_id = str(silent.json()["call_id"])
    # The good call goes in AFTER all the garbage: on one-partition topics it is behind every bad
    # record, so reaching ClickHouse proves each stage got past them.
    good = _upload(local, good_call, "good.wav")
    assert good.status_code == 201, good.text
    good_id = str(good.json()["call_id"])

    deadline = time.monotonic() + WAIT_S
    statuses: dict[str, str | None] = {}
    while time.monotonic() < deadline:
        for name, service in local.services.items():
            assert service.alive, f"{name} died:\n{service.log_tail()}"
        statuses = {call_id: _stored_status(local, call_id) for call_id in (good_id, silent_id)}
        if all(statuses.values()):
            break
        time.sleep(2)
    assert statuses == {good_id: "ok", silent_id: "no_speech"}, (statuses, local.logs())

    # Every bad record is on its stage's dead-letter topic, bytes untouched, with the reason.
    for name, stage in STAGE_OF_TOPIC.items():
        expected = dict(sent[name])
        records = _read_all(kafka_bootstrap, f"{topics['dlq']}.{stage}", len(expected), 60.0)
        by_key = {r.key(): r for r in records}  # type: ignore[attr-defined]
        assert len(records) == len(expected) and set(by_key) == set(expected), (
            stage,
            [r.key() for r in records],  # type: ignore[attr-defined]
        )
        for key, value in expected.items():
            record = by_key[key]
            headers = {k: v.decode() for k, v in record.headers() or []}  # type: ignore[attr-defined]
            assert headers["x-callpipe-source-topic"] == topics[name]
            assert headers["x-callpipe-error-class"], headers
            assert headers["x-callpipe-error-message"], headers
            if value:
                assert record.value() == value  # type: ignore[attr-defined]
            if key.startswith(b"wrong-schema"):
                # The reason names the wrong contract, not some incidental decode failure.
                wrong = "CallAnalyzed" if name == "recordings" else "RecordingReady"
                assert headers["x-callpipe-error-class"] == "PoisonMessageError", headers
                assert wrong in headers["x-callpipe-error-message"], headers
    # Nothing from the garbage reached the downstream topics: the only transcripts/analyses are
    # the good and the silent call.
    for name in ("transcripts", "analyses"):
        keys = {r.key() for r in _read_all(kafka_bootstrap, topics[name], 4, 10.0)}  # type: ignore[attr-defined]
        assert keys == {good_id.encode(), silent_id.encode()} | set(sent[name]), (name, keys)

    exit_codes = local.stop()
    assert all(code == 0 for code in exit_codes.values()), (exit_codes, local.logs())
    rows = query_chdb(
        local.chdb_path,
        "SELECT call_id, status FROM {db:Identifier}.calls FINAL ORDER BY call_id",
    )
    assert sorted(map(tuple, rows)) == sorted([(good_id, "ok"), (silent_id, "no_speech")])
