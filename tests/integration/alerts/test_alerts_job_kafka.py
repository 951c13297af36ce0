"""The faust alerts job against the real broker: 10,000 simulated analyses with a spike; the job is
SIGKILLed in the middle of the spike window and restarted; the alert is on the alerts topic once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition

from callpipe.avro import AvroSerde, LocalSchemaRegistry
from callpipe.models import AlertRaised
from callpipe_bench.alerts_bench import START, simulated_analyses
from tests.integration.kafka_support import produce, read_topic

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _high_watermark(bootstrap: str, topic: str) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"hw-{uuid.uuid4().hex}"})
    try:
        meta = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if meta is None or meta.error is not None:
            return 0
        return sum(
            consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in meta.partitions
        )
    finally:
        consumer.close()


def _start(
    bootstrap: str, analyses: str, alerts: str, app_id: str, data_dir: Path
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "TOPIC_ANALYSES": analyses,
        "TOPIC_ALERTS": alerts,
        "ALERTS_APP_ID": app_id,
        "ALERTS_DATA_DIR": str(data_dir),
        "ALERTS_WEB_PORT": str(20000 + uuid.uuid4().int % 20000),
    }
    env.pop("SCHEMA_REGISTRY_URL", None)
    with open(data_dir / "job.log", "ab") as log:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "callpipe_alerts"], env=env, stdout=subprocess.DEVNULL, stderr=log
        )


def _wait_for(predicate, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def test_spike_alert_once_across_a_sigkill_mid_window(
    kafka_bootstrap: str, new_topic, tmp_path: Path
) -> None:
    stream = simulated_analyses(10_000)
    assert stream.first_spike_record is not None
    analyses = new_topic(3, prefix="analyses")
    alerts_topic = f"alerts-{uuid.uuid4().hex[:8]}"
    app_id = f"alerts-it-{uuid.uuid4().hex[:8]}"
    facts_topic = f"{app_id}-facts"
    # Up to the middle of the spike window, then the job, then SIGKILL while it works on it.
    middle = stream.first_spike_record + 250
    produce(kafka_bootstrap, analyses, stream.records[:middle])
    job = _start(kafka_bootstrap, analyses, alerts_topic, app_id, tmp_path)
    try:
        _wait_for(lambda: _high_watermark(kafka_bootstrap, facts_topic) >= middle - 200, 420, "facts")
        job.send_signal(signal.SIGKILL)
        job.wait(30)
        assert _high_watermark(kafka_bootstrap, alerts_topic) == 0  # the spike window is still open
        produce(kafka_bootstrap, analyses, stream.records[middle:])
        job = _start(kafka_bootstrap, analyses, alerts_topic, app_id, tmp_path)
        records = read_topic(kafka_bootstrap, alerts_topic, expected=1, timeout_s=300, grace_s=20)
    finally:
        job.terminate()
        try:
            job.wait(30)
        except subprocess.TimeoutExpired:
            job.kill()
    log = (tmp_path / "job.log").read_text(errors="replace")[-3000:]
    serde = AvroSerde(AlertRaised, LocalSchemaRegistry.from_directory(), f"{alerts_topic}-value")
    alerts = [serde.deserialize(r.value() or b"") for r in records]
    assert [(a.rule, a.subject) for a in alerts] == [("intent_spike", "intent=cancel_service")], log
    spike_start = START + stream.spike_window * stream.window_s  # type: ignore[operator]
    assert alerts[0].window_start.timestamp() == spike_start
