"""ClickHouse unavailable for 30 s → the RUNNING sink resumes with nothing lost (issue 7, item 2).

``python -m callpipe_sink`` runs as a real process in server mode (``CLICKHOUSE_URL``) against the
ClickHouse HTTP front for chdb (clickhouse_http.py: no ClickHouse server is installable here).
After N analyses are stored, the front is SIGKILLed — connections are refused, as when a server
is down — for 30 s while M new analyses and some redeliveries of stored ones are produced. During
the outage the sink must stay up, retry (its /metrics count DependencyUnavailableError retries),
and commit no offset past what is stored. Once the front is back on the same port and directory:
exactly N + M calls, no duplicate rows, the rollup counts N + M, nothing dead-lettered, the same
process (never crashed), and a clean exit 0 on SIGTERM.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from confluent_kafka import ConsumerGroupTopicPartitions
from confluent_kafka.admin import AdminClient

from callpipe.avro import AvroSerde
from callpipe.kafka import group_id_for
from callpipe_sink.settings import WarehouseSettings
from callpipe_sink.warehouse import Warehouse, open_warehouse
from callpipe_tools.local import create_topic, delete_topics
from callpipe_tools.synthetic.analyses import synthetic_analyses
from tests.integration.sink.sink_it_support import SEED_END, ClickHouseFront, free_port, produce, read_all

pytestmark = pytest.mark.slow

OUTAGE_S = 30.0
STORED_BEFORE, DURING, REDELIVERED = 300, 200, 30
DATABASE = "outage"


def _count(wh: Warehouse, sql: str) -> int:
    return int(wh.rows(sql)[0][0])


def _stored(wh: Warehouse) -> int:
    try:
        return _count(wh, "SELECT count() FROM {db:Identifier}.calls FINAL")
    except Exception:
        return -1


def _committed(bootstrap: str, group: str, topic: str, partitions: int) -> int:
    """Sum of the group's committed positions on ``topic`` (messages consumed for good)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])
    listed = futures[group].result(timeout=10).topic_partitions
    return sum(max(0, tp.offset) for tp in listed if tp.topic == topic and tp.partition < partitions)


def _retries(metrics_url: str) -> float:
    text = httpx.get(metrics_url, timeout=5).text
    pattern = r'callpipe_runner_retried_total\{[^}]*error="DependencyUnavailableError"[^}]*\} ([0-9.e+]+)'
    return sum(float(v) for v in re.findall(pattern, text))


@pytest.fixture
def dead_letter_prefix(kafka_bootstrap: str) -> Iterator[str]:
    # The sink names its dead-letter topic <prefix>.sink: create it under a fresh prefix.
    prefix = f"it-outage-dlq-{uuid.uuid4().hex[:10]}"
    create_topic(kafka_bootstrap, f"{prefix}.sink", 1)
    yield prefix
    delete_topics(kafka_bootstrap, [f"{prefix}.sink"])


@pytest.fixture
def front(tmp_path: Path) -> Iterator[ClickHouseFront]:
    with ClickHouseFront(tmp_path / "chdb", tmp_path / "front.log") as running:
        yield running


@pytest.fixture
def reader(front: ClickHouseFront) -> Iterator[Warehouse]:
    """The test's own client on the front (HTTP; chdb is never opened in the pytest process)."""
    wh = open_warehouse(WarehouseSettings(url=front.url, database=DATABASE, connect_timeout_s=2))
    yield wh
    wh.close()


class _Sink:
    """``python -m callpipe_sink`` in server mode, as a process of its own."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "callpipe_sink"], env=env, stdout=out, stderr=subprocess.STDOUT
            )

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def wait_for(self, what: str, ok: Callable[[], bool], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not ok():
            assert self.proc.poll() is None, f"sink exited {self.proc.returncode}: {self.tail()}"
            assert time.monotonic() < deadline, f"timed out waiting for {what}: {self.tail()}"
            time.sleep(0.5)

    def terminate(self, timeout_s: float = 60.0) -> int:
        """SIGTERM and the exit status (killed, and the test failed, if it does not exit)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(30)
            raise AssertionError(f"sink ignored SIGTERM for {timeout_s:.0f}s: {self.tail()}") from None


def _sink_env(
    kafka_bootstrap: str, topic: str, dead_letter_prefix: str, group_prefix: str, front: ClickHouseFront
) -> dict[str, str]:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "TOPIC_ANALYSES": topic,
        "TOPIC_DEAD_LETTER_PREFIX": dead_letter_prefix,
        "CLICKHOUSE_URL": front.url,
        "CLICKHOUSE_DATABASE": DATABASE,
        "CLICKHOUSE_CONNECT_TIMEOUT_S": "2",
        "INSIGHTS_ENABLED": "false",
        "RUNNER_GROUP_PREFIX": group_prefix,
        "RUNNER_BATCH_SIZE": "100",
        "RUNNER_BATCH_MAX_WAIT_MS": "200",
        # Small backoff: the outage is retried many times (cap 2 s, full jitter, 0.2 s floor).
        "RUNNER_BACKOFF_INITIAL_S": "0.2",
        "RUNNER_BACKOFF_MAX_S": "2",
        "RUNNER_COMMIT_INTERVAL_S": "0.5",
        "RUNNER_METRICS_PORT": str(free_port()),
    }
    env.pop("CLICKHOUSE_CHDB_PATH", None)
    return env


@pytest.mark.timeout(360)
def test_sink_process_resumes_after_clickhouse_is_down_30s(
    kafka_bootstrap: str,
    new_topic: Any,
    dead_letter_prefix: str,
    front: ClickHouseFront,
    reader: Warehouse,
    serde: AvroSerde[Any],
    tmp_path: Path,
) -> None:
    partitions = 3
    topic = new_topic(partitions)
    group_prefix = f"it-outage-{uuid.uuid4().hex[:10]}"
    group = group_id_for("sink", group_prefix)
    events = list(synthetic_analyses(STORED_BEFORE + DURING, end=SEED_END, days=3, seed=71))
    records = [(e["call_id"], serde.serialize_dict(e)) for e in events]
    before, during = records[:STORED_BEFORE], records[STORED_BEFORE:]
    rng = random.Random(72)
    redeliveries = [before[rng.randrange(STORED_BEFORE)] for _ in range(REDELIVERED)]

    env = _sink_env(kafka_bootstrap, topic, dead_letter_prefix, group_prefix, front)
    metrics_url = f"http://127.0.0.1:{env['RUNNER_METRICS_PORT']}/metrics"
    sink = _Sink(env, tmp_path / "sink.log")
    pid = sink.proc.pid
    committed = lambda: _committed(kafka_bootstrap, group, topic, partitions)  # noqa: E731
    try:
        # 1. N analyses stored and their offsets committed.
        produce(kafka_bootstrap, topic, before)
        sink.wait_for("the first analyses", lambda: _stored(reader) == STORED_BEFORE, 120)
        sink.wait_for("the first commit", lambda: committed() == STORED_BEFORE, 30)
        retries_before = _retries(metrics_url)

        # 2. ClickHouse down for 30 s (connections refused) while analyses keep coming.
        front.kill()
        down_at = time.monotonic()
        produce(kafka_bootstrap, topic, during[: DURING // 2] + redeliveries + during[DURING // 2 :])
        while time.monotonic() - down_at < OUTAGE_S:
            assert sink.proc.poll() is None, f"sink died during the outage: {sink.tail()}"
            # Nothing can be stored, so nothing may be committed past what was stored before.
            assert committed() == STORED_BEFORE
            time.sleep(1.0)
        retries_during = _retries(metrics_url) - retries_before
        assert retries_during >= 5, f"only {retries_during} retries in {OUTAGE_S:.0f}s of outage"

        # 3. ClickHouse back on the same port and directory: the sink catches up by itself.
        front.start()
        sink.wait_for("the catch-up", lambda: _stored(reader) == STORED_BEFORE + DURING, 120)
        sink.wait_for("the final commit", lambda: committed() == STORED_BEFORE + DURING + REDELIVERED, 30)

        calls = "{db:Identifier}.calls"
        assert _count(reader, f"SELECT count() FROM {calls} FINAL") == STORED_BEFORE + DURING
        assert _count(reader, f"SELECT uniqExact(call_id) FROM {calls}") == STORED_BEFORE + DURING
        # No row written twice (the idempotence checks, not only FINAL, kept the redeliveries out).
        assert _count(reader, f"SELECT count() FROM {calls}") == STORED_BEFORE + DURING
        rollup = _count(reader, "SELECT countMerge(calls) FROM {db:Identifier}.calls_hourly")
        assert rollup == STORED_BEFORE + DURING
        stored_ids = [r[0] for r in reader.rows(f"SELECT call_id FROM {calls} FINAL ORDER BY call_id")]
        assert stored_ids == sorted(e["call_id"] for e in events)
        assert read_all(kafka_bootstrap, f"{dead_letter_prefix}.sink", 0, timeout=3) == []
        assert sink.proc.poll() is None and sink.proc.pid == pid  # the same process: it never crashed
        text = sink.log.read_text()
        assert "DependencyUnavailableError" in text and "unreachable" in text, text[-4000:]
        assert "dead-lettering" not in text and "batch task failed" not in text
    finally:
        code = sink.terminate()
    assert code == 0, sink.tail()


@pytest.mark.timeout(360)
def test_sigterm_while_clickhouse_is_down_commits_nothing_unstored(
    kafka_bootstrap: str,
    new_topic: Any,
    dead_letter_prefix: str,
    front: ClickHouseFront,
    reader: Warehouse,
    serde: AvroSerde[Any],
    tmp_path: Path,
) -> None:
    """A deploy (SIGTERM) during the outage: the sink gives up its retrying batch within the drain
    timeout, exits 0, and commits nothing it did not store; the next process stores it all."""
    topic = new_topic(2)
    group_prefix = f"it-outage-term-{uuid.uuid4().hex[:10]}"
    group = group_id_for("sink", group_prefix)
    events = list(synthetic_analyses(200, end=SEED_END, days=2, seed=73))
    records = [(e["call_id"], serde.serialize_dict(e)) for e in events]
    env = {
        **_sink_env(kafka_bootstrap, topic, dead_letter_prefix, group_prefix, front),
        "RUNNER_DRAIN_TIMEOUT_S": "5",
    }
    metrics_url = f"http://127.0.0.1:{env['RUNNER_METRICS_PORT']}/metrics"
    committed = lambda: _committed(kafka_bootstrap, group, topic, 2)  # noqa: E731

    first = _Sink(env, tmp_path / "sink-1.log")
    try:
        produce(kafka_bootstrap, topic, records[:100])
        first.wait_for("the first analyses", lambda: _stored(reader) == 100, 120)
        first.wait_for("the first commit", lambda: committed() == 100, 30)
        front.kill()
        produce(kafka_bootstrap, topic, records[100:])
        first.wait_for("retries", lambda: _retries(metrics_url) >= 3, 60)
    finally:
        asked = time.monotonic()
        code = first.terminate()
    assert code == 0, first.tail()
    assert time.monotonic() - asked < 5 + 20, "shutdown took far longer than the drain timeout"
    assert committed() == 100  # the batch that was waiting for ClickHouse stays uncommitted

    front.start()
    second = _Sink(env, tmp_path / "sink-2.log")
    try:
        second.wait_for("the redelivered analyses", lambda: _stored(reader) == 200, 120)
        second.wait_for("the final commit", lambda: committed() == 200, 30)
        assert _count(reader, "SELECT count() FROM {db:Identifier}.calls") == 200
        assert _count(reader, "SELECT countMerge(calls) FROM {db:Identifier}.calls_hourly") == 200
        assert read_all(kafka_bootstrap, f"{dead_letter_prefix}.sink", 0, timeout=3) == []
    finally:
        code = second.terminate()
    assert code == 0, second.tail()
