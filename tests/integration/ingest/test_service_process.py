"""The service as deployed: ``python -m callpipe_ingest`` (settings from the environment, uvicorn on
127.0.0.1), /readyz following the broker, a signed callback over real HTTP, clean SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from callpipe.settings import TopicSettings
from callpipe_tools.local import LocalKafka
from callpipe_tools.local._process import free_port
from tests.integration.ingest.ingest_it_support import (
    AUTH_TOKEN,
    completed_callback,
    new_sids,
    read_topic,
    signed,
)


def wait_for(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")


def status_of(base: str, path: str) -> int | None:
    try:
        return httpx.get(base + path, timeout=5).status_code
    except httpx.TransportError:
        return None


@pytest.fixture
def service(
    kafka_bootstrap: str, topics: TopicSettings, store_dir: Path, tmp_path: Path
) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "INGEST_HOST": "127.0.0.1",
        "INGEST_PORT": str(port),
        "INGEST_PUBLIC_BASE_URL": base,
        "INGEST_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "INGEST_PUBLISH_TIMEOUT_S": "5",
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "TOPIC_RECORDINGS": topics.recordings,
        "TOPIC_CALL_EVENTS": topics.call_events,
        "RECORDING_STORE_URL": store_dir.as_uri(),
    }
    env.pop("SCHEMA_REGISTRY_URL", None)
    log = tmp_path / "ingest.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "callpipe_ingest"], env=env, stdout=out, stderr=out)
    try:
        wait_for(lambda: status_of(base, "/healthz") == 200 or proc.poll() is not None, 60, "/healthz")
        assert proc.poll() is None, log.read_text()
        yield base, proc, log
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_started_service_is_ready_with_the_broker_and_not_without_it(
    service: tuple[str, subprocess.Popen[bytes], Path],
    kafka_broker: LocalKafka,
    kafka_bootstrap: str,
    topics: TopicSettings,
) -> None:
    base, proc, log = service
    wait_for(lambda: status_of(base, "/readyz") == 200, 30, "/readyz 200 with the broker up")
    assert httpx.get(base + "/readyz").json() == {"status": "ready"}

    call_sid, rec_sid = new_sids()
    params = completed_callback(call_sid, rec_sid)
    path = "/twilio/recording-status"
    response = httpx.post(base + path, data=params, headers=signed(path, params, base=base), timeout=30)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "published"
    [record] = read_topic(kafka_bootstrap, topics.recordings, expect=1)
    assert record.key() == call_sid.encode()

    kafka_broker.stop()
    wait_for(lambda: status_of(base, "/readyz") == 503, 30, "/readyz 503 with the broker stopped")
    body = httpx.get(base + "/readyz", timeout=10).json()
    assert body["status"] == "unavailable"
    assert "Kafka unreachable" in body["reason"]
    assert status_of(base, "/healthz") == 200  # alive, just not ready: no restart loop

    kafka_broker.start()
    wait_for(lambda: status_of(base, "/readyz") == 200, 60, "/readyz 200 after the broker restarted")

    # SIGTERM (what a container runtime sends): uvicorn drains, the producer flushes, exit 0.
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0, log.read_text()[-3000:]
