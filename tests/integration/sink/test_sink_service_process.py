"""`python -m callpipe_sink` as a process, embedded chdb: it migrates, consumes the topic, serves
the insights API from the same process (chdb allows one process per directory), and exits
cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from callpipe.avro import AvroSerde
from callpipe_tools.synthetic.analyses import synthetic_analyses
from tests.integration.sink.sink_it_support import SEED_END, TOKEN, produce


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_service_consumes_and_serves_from_one_process(
    kafka_bootstrap: str, new_topic: Any, serde: AvroSerde[Any], tmp_path: Path
) -> None:
    topic = new_topic(2)
    events = list(synthetic_analyses(50, end=SEED_END, days=2, seed=41))
    produce(kafka_bootstrap, topic, [(e["call_id"], serde.serialize_dict(e)) for e in events])
    port = _free_port()
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "TOPIC_ANALYSES": topic,
        "CLICKHOUSE_CHDB_PATH": str(tmp_path / "chdb"),
        "INSIGHTS_TOKEN": TOKEN,
        "INSIGHTS_PORT": str(port),
        "RUNNER_BATCH_MAX_WAIT_MS": "200",
    }
    env.pop("CLICKHOUSE_URL", None)
    log = (tmp_path / "sink.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "callpipe_sink"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 90
        total = -1
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "sink.log").read_text()[-3000:]
            try:
                response = httpx.get(
                    f"http://127.0.0.1:{port}/calls",
                    params={"limit": 1},
                    headers={"Authorization": f"Bearer {TOKEN}"},
                    timeout=5,
                )
                if response.status_code == 200:
                    total = response.json()["total"]
                    if total == 50:
                        break
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        assert total == 50, (tmp_path / "sink.log").read_text()[-3000:]
        assert httpx.get(f"http://127.0.0.1:{port}/calls", timeout=5).status_code == 401
        assert TOKEN not in (tmp_path / "sink.log").read_text()  # the secret is never logged
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(60)
        log.close()
    assert code == 0, (tmp_path / "sink.log").read_text()[-3000:]
