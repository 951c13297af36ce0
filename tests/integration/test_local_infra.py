"""The local servers behind the fixtures: a real KRaft broker and a real Apicurio registry."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

from callpipe_tools.local import FetchError, LocalKafka, ServerStartError, TopicFactory, _jars
from callpipe_tools.local._process import free_port

REPO = Path(__file__).resolve().parents[2]


def _produce(bootstrap: str, topic: str, values: list[str], partition: int = 0) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    for value in values:
        producer.produce(topic, value.encode(), partition=partition)
    assert producer.flush(30) == 0


def _consume(bootstrap: str, topic: str, group: str, expected: int, timeout: float = 60.0) -> list[str]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    got: list[str] = []
    deadline = time.monotonic() + timeout
    try:
        while len(got) < expected and time.monotonic() < deadline:
            msg: Message | None = consumer.poll(0.5)
            if msg is None or msg.error() is not None:
                continue
            got.append((msg.value() or b"").decode())
            consumer.commit(message=msg, asynchronous=False)
        # Nothing beyond what we expected may be waiting.
        extra = consumer.poll(2.0)
        assert extra is None or extra.error() is not None, f"unexpected extra message {extra.value()!r}"
    finally:
        consumer.close()
    return got


def test_new_topic_has_partitions_and_round_trips(kafka_bootstrap: str, new_topic: TopicFactory) -> None:
    topic = new_topic(3)
    metadata = AdminClient({"bootstrap.servers": kafka_bootstrap}).list_topics(topic, timeout=10)
    assert len(metadata.topics[topic].partitions) == 3
    for partition in range(3):
        _produce(kafka_bootstrap, topic, [f"p{partition}"], partition=partition)
    assert sorted(_consume(kafka_bootstrap, topic, "g-roundtrip", expected=3)) == ["p0", "p1", "p2"]


def test_restart_keeps_messages_and_committed_offsets(
    kafka_broker: LocalKafka, new_topic: TopicFactory
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    topic = new_topic(1)
    _produce(bootstrap, topic, ["a", "b", "c"])
    assert _consume(bootstrap, topic, "g-restart", expected=3) == ["a", "b", "c"]

    kafka_broker.restart()
    assert kafka_broker.bootstrap_servers == bootstrap
    _produce(bootstrap, topic, ["d"])
    # The group resumes after its committed offset: only the new message arrives.
    assert _consume(bootstrap, topic, "g-restart", expected=1) == ["d"]


def test_kill_then_start_recovers_acknowledged_writes(
    kafka_broker: LocalKafka, new_topic: TopicFactory
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    topic = new_topic(1)
    _produce(bootstrap, topic, ["x1", "x2"])
    pid = kafka_broker.pid
    kafka_broker.kill()
    assert not kafka_broker.running
    kafka_broker.start()
    assert kafka_broker.pid != pid
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "g-kill"})
    try:
        # The port is open before the restarted broker has re-elected itself leader of every
        # partition (NOT_LEADER_FOR_PARTITION for a moment): ask again until it has, bounded.
        deadline = time.monotonic() + 30
        while True:
            try:
                low, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
                break
            except KafkaException as exc:
                if time.monotonic() > deadline or exc.args[0].code() != KafkaError.NOT_LEADER_FOR_PARTITION:
                    raise
                time.sleep(0.5)
    finally:
        consumer.close()
    assert (low, high) == (0, 2)


def test_failed_start_reports_the_broker_log(tmp_path: Path) -> None:
    broken = LocalKafka(data_dir=tmp_path / "k", properties={"node.id": "not-a-number"}, start_timeout=60)
    with pytest.raises(ServerStartError) as info:
        broken.start()
    assert "not-a-number" in info.value.log_tail
    assert not broken.running


def test_cli_start_status_stop(tmp_path: Path) -> None:
    port = free_port()
    pidfile = tmp_path / "kafka.pid"
    cli = [sys.executable, "-m", "callpipe_tools.local", "kafka"]
    opts = ["--data-dir", str(tmp_path / "kafka"), "--port", str(port), "--pidfile", str(pidfile)]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    started = subprocess.run([*cli, "start", *opts], capture_output=True, text=True, timeout=180, env=env)
    try:
        assert started.returncode == 0, started.stderr
        assert f"127.0.0.1:{port}" in started.stdout
        status = subprocess.run([*cli, "status", *opts], capture_output=True, text=True, env=env)
        assert status.returncode == 0
        assert AdminClient({"bootstrap.servers": f"127.0.0.1:{port}"}).list_topics(timeout=10) is not None
    finally:
        stopped = subprocess.run([*cli, "stop", *opts], capture_output=True, text=True, timeout=60, env=env)
    assert stopped.returncode == 0
    assert "stopped" in stopped.stdout
    assert subprocess.run([*cli, "status", *opts], capture_output=True, env=env).returncode == 1
    assert not pidfile.exists()


def test_jar_cache_without_marker_is_not_trusted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lib = tmp_path / f"kafka-{_jars.KAFKA_VERSION}" / "lib"
    lib.mkdir(parents=True)
    (lib / f"kafka_2.13-{_jars.KAFKA_VERSION}.jar").write_bytes(b"half a download")
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))  # no mvn: a refetch must fail loudly
    with pytest.raises(FetchError, match="mvn not found"):
        _jars.ensure_kafka_jars(tmp_path)
    (lib / ".complete").write_text("ok\n")
    assert _jars.ensure_kafka_jars(tmp_path) == lib


AVRO_V1 = {"type": "record", "name": "Call", "namespace": "t", "fields": [{"name": "id", "type": "string"}]}


@pytest.fixture
def registry_client(schema_registry_url: str) -> Iterator[SchemaRegistryClient]:
    with SchemaRegistryClient({"url": schema_registry_url}) as client:
        yield client


def test_registry_registers_and_returns_avro_schema(registry_client: SchemaRegistryClient) -> None:
    client = registry_client
    subject = f"calls-{time.monotonic_ns()}-value"
    schema_id = client.register_schema(subject, Schema(json.dumps(AVRO_V1), "AVRO"))
    assert json.loads(client.get_schema(schema_id).schema_str or "null") == AVRO_V1
    latest = client.get_latest_version(subject)
    assert (latest.schema_id, latest.version) == (schema_id, 1)
    # Registering the same schema again is idempotent.
    assert client.register_schema(subject, Schema(json.dumps(AVRO_V1), "AVRO")) == schema_id


def test_registry_enforces_subject_compatibility(registry_client: SchemaRegistryClient) -> None:
    client = registry_client
    subject = f"compat-{time.monotonic_ns()}-value"
    client.register_schema(subject, Schema(json.dumps(AVRO_V1), "AVRO"))
    client.set_compatibility(subject, "BACKWARD")
    assert client.get_compatibility(subject) == "BACKWARD"
    # A new required field without a default cannot read old data: not backward compatible.
    breaking = {**AVRO_V1, "fields": [*AVRO_V1["fields"], {"name": "agent", "type": "string"}]}
    assert client.test_compatibility(subject, Schema(json.dumps(breaking), "AVRO")) is False
    with pytest.raises(SchemaRegistryError) as info:
        client.register_schema(subject, Schema(json.dumps(breaking), "AVRO"))
    assert info.value.http_status_code == 409
    compatible = {
        **AVRO_V1,
        "fields": [*AVRO_V1["fields"], {"name": "agent", "type": "string", "default": ""}],
    }
    assert client.register_schema(subject, Schema(json.dumps(compatible), "AVRO")) > 0
