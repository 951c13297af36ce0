"""Session fixtures for real servers, started lazily (only when a test asks for them).

- ``kafka_bootstrap`` -> str: ``$KAFKA_BOOTSTRAP_SERVERS`` if set, else a LocalKafka for the session.
- ``kafka_broker`` -> LocalKafka: the session broker itself, for stop/restart/kill tests; skipped
  when ``$KAFKA_BOOTSTRAP_SERVERS`` names an external broker. Restarted after a test that left it
  down, so later tests find it running.
- ``schema_registry_url`` -> str: ``$SCHEMA_REGISTRY_URL`` if set, else a LocalRegistry (Apicurio).
- ``new_topic(partitions=1, *, prefix="test", config=None)`` -> str: a fresh, ready topic.
- ``s3_endpoint`` -> str: a moto S3 server on 127.0.0.1 for the module (S3 store, erasure, retention).
- ``chdb_client`` -> clickhouse-connect client on the ONE embedded ClickHouse directory of this
  pytest process: chdb lets a process open a single data directory (warehouse/client.py), so every in-process
  test shares it and isolates itself with its own database. Directories written by service
  subprocesses are read with ``callpipe_cli.localrun.query_chdb`` (a subprocess) instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from callpipe_tools.local import (
    LocalKafka,
    LocalRegistry,
    TopicFactory,
    create_topic,
    delete_topics,
    unique_topic_name,
)

_INTEGRATION_DIR = Path(__file__).parent / "integration"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(_INTEGRATION_DIR):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def _session_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    kafka = LocalKafka(data_dir=tmp_path_factory.mktemp("kafka"))
    with kafka:
        yield kafka


@pytest.fixture(scope="session")
def kafka_bootstrap(request: pytest.FixtureRequest) -> str:
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        return external
    kafka: LocalKafka = request.getfixturevalue("_session_kafka")
    return kafka.bootstrap_servers


@pytest.fixture
def kafka_broker(request: pytest.FixtureRequest) -> Iterator[LocalKafka]:
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        pytest.skip("KAFKA_BOOTSTRAP_SERVERS points at an external broker that tests cannot restart")
    kafka: LocalKafka = request.getfixturevalue("_session_kafka")
    yield kafka
    if not kafka.running:
        kafka.start()


@pytest.fixture(scope="session")
def schema_registry_url() -> Iterator[str]:
    external = os.environ.get("SCHEMA_REGISTRY_URL")
    if external:
        yield external
        return
    with LocalRegistry() as registry:
        yield registry.url


@pytest.fixture
def new_topic(kafka_bootstrap: str) -> Iterator[TopicFactory]:
    created: list[str] = []

    def factory(partitions: int = 1, *, prefix: str = "test", config: Mapping[str, str] | None = None) -> str:
        name = unique_topic_name(prefix)
        create_topic(kafka_bootstrap, name, partitions, config=config)
        created.append(name)
        return name

    yield factory
    delete_topics(kafka_bootstrap, created)


@pytest.fixture(scope="session")
def chdb_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    import clickhouse_connect

    client = clickhouse_connect.get_client(interface="chdb", path=str(tmp_path_factory.mktemp("chdb")))
    yield client
    client.close()


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    from callpipe_tools.local._process import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
