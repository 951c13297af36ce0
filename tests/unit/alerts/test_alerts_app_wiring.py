"""The faust app is wired from the same settings as every other callpipe service: the topics faust
creates itself (facts, state changelog) get KAFKA_TOPIC_REPLICATION, and its web server binds
ALERTS_WEB_HOST (127.0.0.1 unless set). No broker: topic creation goes to a recording producer and
the worker is never started."""

from __future__ import annotations

import asyncio
from typing import Any

import faust
import pytest

import callpipe_alerts.__main__ as alerts_main
from callpipe.avro import LocalSchemaRegistry
from callpipe_alerts.app import AlertsJob, JobTopics, build_job
from callpipe_alerts.config import load_config


class _RecordingProducer:
    def __init__(self) -> None:
        self.created: dict[str, tuple[int, int]] = {}

    async def create_topic(self, topic: str, partitions: int, replication: int, **_: Any) -> None:
        self.created[topic] = (partitions, replication)


def _declared(job: AlertsJob, monkeypatch: pytest.MonkeyPatch) -> dict[str, tuple[int, int]]:
    """(partitions, replication) of the topics the job's own agents and table would create."""
    producer = _RecordingProducer()

    async def _get_producer(_topic: Any) -> _RecordingProducer:
        return producer

    monkeypatch.setattr(faust.topics.Topic, "_get_producer", _get_producer)
    facts_topic = job.app.agents["callpipe_alerts.app.aggregate"].channel
    changelog = job.app.tables["state"].changelog_topic

    async def _declare_all() -> None:
        await facts_topic.declare()
        await changelog.declare()

    asyncio.run(_declare_all())
    return producer.created


def _job(**overrides: Any) -> AlertsJob:
    options: dict[str, Any] = {
        "app_id": "alerts-test",
        "bootstrap_servers": "127.0.0.1:9",
        "topics": JobTopics(analyses="analyses", alerts="alerts", dead_letter="alerts.dlq"),
        "config": load_config(),
        "registry": LocalSchemaRegistry.from_directory(),
        **overrides,
    }
    return build_job(**options)


def test_faust_created_topics_get_the_configured_replication(monkeypatch: pytest.MonkeyPatch) -> None:
    job = _job(replication_factor=3)
    assert job.app.conf.topic_replication_factor == 3
    assert _declared(job, monkeypatch) == {
        "alerts-test-facts": (1, 3),
        "alerts-test-state-changelog": (1, 3),
    }


def test_web_host_defaults_to_loopback() -> None:
    assert _job(replication_factor=1).app.conf.web_host == "127.0.0.1"


def test_main_takes_replication_and_web_host_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """python -m callpipe_alerts with KAFKA_TOPIC_REPLICATION / ALERTS_WEB_HOST set: the app it
    would run carries both (broker, registry and worker replaced; nothing listens)."""
    built: list[AlertsJob] = []
    started: list[faust.App] = []

    def spy_build_job(**kwargs: Any) -> AlertsJob:
        job = build_job(**kwargs)
        built.append(job)
        return job

    class _Worker:
        def __init__(self, app: faust.App, **_: Any) -> None:
            started.append(app)

        def execute_from_commandline(self) -> None:
            return None

    monkeypatch.setenv("KAFKA_TOPIC_REPLICATION", "3")
    monkeypatch.setenv("ALERTS_WEB_HOST", "0.0.0.0")
    monkeypatch.delenv("ALERTS_CONFIG_PATH", raising=False)
    monkeypatch.delenv("ALERTS_WEBHOOK_URL", raising=False)
    monkeypatch.setattr(alerts_main, "configure_logging", lambda _service: None)
    monkeypatch.setattr(alerts_main, "ensure_topics", lambda *_a, **_k: [])
    local_registry = LocalSchemaRegistry.from_directory()
    monkeypatch.setattr(alerts_main, "registry_from_settings", lambda _s: local_registry)
    monkeypatch.setattr(alerts_main, "alert_ids_on_topic", lambda *_a: [])
    monkeypatch.setattr(alerts_main, "build_job", spy_build_job)
    monkeypatch.setattr(faust, "Worker", _Worker)  # __main__ reaches it as faust.Worker

    alerts_main.main()

    assert len(built) == 1 and started == [built[0].app]
    conf = built[0].app.conf
    assert (conf.topic_replication_factor, conf.web_host) == (3, "0.0.0.0")
    assert set(_declared(built[0], monkeypatch).values()) == {(1, 3)}

    monkeypatch.delenv("KAFKA_TOPIC_REPLICATION")
    monkeypatch.delenv("ALERTS_WEB_HOST")
    alerts_main.main()
    assert (built[1].app.conf.topic_replication_factor, built[1].app.conf.web_host) == (1, "127.0.0.1")
