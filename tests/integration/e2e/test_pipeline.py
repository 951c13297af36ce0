"""End to end: the four services as separate processes on the real broker, real engines.

50 distinct recordings are uploaded through the ingest API; each must end up as exactly one row
in ClickHouse (``count() FINAL`` = 50, no call missing, no duplicate) and every dead-letter topic
must stay empty.
"""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from confluent_kafka import Consumer, TopicPartition

from callpipe.models import Role
from callpipe_cli.localrun import DELIVERY_ENGINE_ENV, LocalPipeline, query_chdb, topic_env
from callpipe_tools.synthetic.calls import CallScript, ScriptTurn, generate_call, pad_with_silence

pytestmark = pytest.mark.slow

CALLS = 50
BASE_SCRIPTS = 10
STAGES = ("transcriber", "analyzer", "sink")

_LINES = [
    ("Thank you for calling Acme, this is Jordan. How can I help?", "I was charged twice on my bill."),
    ("Thanks for calling Acme support, my name is Priya.", "My internet has been down since this morning."),
    ("Acme customer care, this is Sam speaking.", "I would like to cancel my account, Globex is cheaper."),
    ("Thank you for calling, how may I help you today?", "I moved and need to update my address."),
    ("Hello, you are speaking with Lee at Acme.", "My package is a week late and nobody answers."),
]


def _short_call(index: int, out: Path) -> Path:
    agent, caller = _LINES[index % len(_LINES)]
    script = CallScript(
        call_id=f"e2e-base-{index}",
        turns=[
            ScriptTurn(role=Role.AGENT, text=agent),
            ScriptTurn(role=Role.CALLER, text=f"{caller} My reference is {index + 100}."),
            ScriptTurn(role=Role.AGENT, text="I understand, I will take care of that for you today."),
        ],
    )
    return generate_call(script, out, sample_rate=8000).stereo_path


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    out = tmp_path_factory.mktemp("e2e-audio")
    bases = [_short_call(i, out) for i in range(BASE_SCRIPTS)]
    per_base = CALLS // BASE_SCRIPTS
    return [
        pad_with_silence(base, 80 * (k + 1), out / f"call-{b:02d}-{k}.wav")
        for b, base in enumerate(bases)
        for k in range(per_base)
    ]


def _dead_letter_counts(bootstrap: str, topics: list[str]) -> dict[str, int]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"e2e-dlq-{uuid.uuid4().hex}"})
    try:
        counts = {}
        metadata = consumer.list_topics(timeout=10)
        for topic in topics:
            if topic not in metadata.topics:
                counts[topic] = 0
                continue
            total = 0
            for partition in metadata.topics[topic].partitions:
                low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
                total += high - low
            counts[topic] = total
        return counts
    finally:
        consumer.close()


def test_fifty_recordings_land_exactly_once_in_clickhouse(
    kafka_bootstrap: str, recordings: list[Path], tmp_path: Path
) -> None:
    prefix = f"e2e{uuid.uuid4().hex[:6]}"
    # Delivery through four processes, not accuracy: the delivery-test engine settings keep it
    # inside CI's time on 2 cores.
    topics = {**topic_env(prefix), **DELIVERY_ENGINE_ENV}
    pipeline = LocalPipeline(kafka_bootstrap, tmp_path / "pipeline", extra_env=topics)
    headers = {"Authorization": f"Bearer {pipeline.api_token}"}  # upload scope
    read_headers = {"Authorization": f"Bearer {pipeline.read_token}"}
    try:
        pipeline.start()

        def upload(path: Path) -> str:
            metadata = {"channel_roles": ["caller", "agent"], "agent_id": "agent-e2e", "queue": "support"}
            with path.open("rb") as audio:
                response = httpx.post(
                    f"{pipeline.ingest_url}/recordings",
                    headers=headers,
                    files={"file": (path.name, audio, "audio/wav")},
                    data={"metadata": json.dumps(metadata)},
                    timeout=60,
                )
            assert response.status_code == 201, response.text
            return str(response.json()["call_id"])

        with ThreadPoolExecutor(4) as pool:
            call_ids = list(pool.map(upload, recordings))
        assert len(set(call_ids)) == CALLS

        deadline = time.monotonic() + 540
        total = 0
        while time.monotonic() < deadline:
            for name, service in pipeline.services.items():
                assert service.alive, f"{name} died:\n{service.log_tail()}"
            response = httpx.get(f"{pipeline.insights_url}/calls", params={"limit": 1}, headers=read_headers)
            total = response.json()["total"] if response.status_code == 200 else 0
            if total >= CALLS:
                break
            time.sleep(2)
        assert total == CALLS, f"{total}/{CALLS} calls stored; logs:\n{pipeline.logs()}"

        stored: set[str] = set()
        offset: int | None = 0
        while offset is not None:
            page = httpx.get(
                f"{pipeline.insights_url}/calls", params={"limit": 50, "offset": offset}, headers=read_headers
            ).json()
            stored |= {item["call_id"] for item in page["items"]}
            offset = page["next_offset"]
        assert stored == set(call_ids)

        detail = httpx.get(f"{pipeline.insights_url}/calls/{call_ids[0]}", headers=read_headers).json()
        assert detail["call"]["intent"]
        assert {line["role"] for line in detail["transcript"]} == {"agent", "caller"}
    finally:
        exit_codes = pipeline.stop()

    assert all(code == 0 for code in exit_codes.values()), (exit_codes, pipeline.logs())
    dlq = _dead_letter_counts(kafka_bootstrap, [f"{prefix}.dlq.{stage}" for stage in STAGES])
    assert all(count == 0 for count in dlq.values()), dlq

    # After the sink let go of its chdb directory, read the table itself: one row per call.
    rows = query_chdb(
        pipeline.chdb_path, "SELECT count(), uniqExact(call_id) FROM {db:Identifier}.calls FINAL"
    )
    assert rows == [[CALLS, CALLS]]
