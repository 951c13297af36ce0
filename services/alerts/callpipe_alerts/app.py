"""The faust job: analyses → facts (repartitioned to one partition) → windowed state → alerts.

Three single-concurrency agents (faust-streaming's sound part: agents with concurrency > 1 can
commit past a message in flight, faust issue #606):

* ``extract`` reads CallAnalyzed (any partition count, scales with replicas), keeps the few facts
  the rules need and forwards them, with their source partition and offset, to one partition, so
  that windows count every call of the call center, not one partition's share;
* ``aggregate`` folds facts into the engine state, a faust table (one record per update in its
  changelog topic, restored from it after a crash), and sends the alerts of closed windows to the
  alerts topic (awaiting the broker's acknowledgement) before it stores the state;
* ``notify`` posts each alert to the webhook.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import faust

from callpipe.avro import AvroSerde, SchemaRegistry
from callpipe.errors import PoisonMessageError
from callpipe.models import AlertRaised
from callpipe_alerts.config import AlertsConfig
from callpipe_alerts.decode import WriterSchemaDecoder
from callpipe_alerts.engine import AlertEngine, new_state
from callpipe_alerts.facts import CallFacts, extract_facts
from callpipe_alerts.webhook import WebhookSender

__all__ = ["AlertsJob", "JobTopics", "build_job"]

log = logging.getLogger("callpipe.alerts")

STATE_KEY = "state"


@dataclass(frozen=True)
class JobTopics:
    analyses: str
    alerts: str
    dead_letter: str


@dataclass
class AlertsJob:
    app: faust.App
    engine: AlertEngine


def build_job(
    *,
    app_id: str,
    bootstrap_servers: str,
    topics: JobTopics,
    config: AlertsConfig,
    registry: SchemaRegistry,
    seed_fired: list[str] | None = None,
    webhook: WebhookSender | None = None,
    replication_factor: int,
    data_dir: str = "var/alerts",
    web_host: str = "127.0.0.1",
    web_port: int = 6066,
) -> AlertsJob:
    """The faust app and its agents; ``replication_factor`` is that of the topics faust creates
    (facts, state changelog), which should be the cluster's like every other callpipe topic."""
    app = faust.App(
        app_id,
        broker=[f"kafka://{server.strip()}" for server in bootstrap_servers.split(",")],
        store="memory://",  # state is rebuilt from the changelog topic on every start
        datadir=data_dir,
        web_port=web_port,
        web_host=web_host,
        topic_partitions=1,
        topic_replication_factor=replication_factor,
        consumer_auto_offset_reset="earliest",
        processing_guarantee="at_least_once",
        table_cleanup_interval=3600.0,
    )
    engine = AlertEngine(config)
    decoder = WriterSchemaDecoder(registry)
    alert_serde = AvroSerde(AlertRaised, registry, f"{topics.alerts}-value")
    analyses_topic = app.topic(topics.analyses, key_serializer="raw", value_serializer="raw")
    facts_topic = app.topic(
        f"{app_id}-facts", key_serializer="raw", value_serializer="json", partitions=1, internal=True
    )
    alerts_topic = app.topic(topics.alerts, key_serializer="raw", value_serializer="raw")
    dead_letter_topic = app.topic(topics.dead_letter, key_serializer="raw", value_serializer="raw")
    state_table = app.Table("state", default=None, partitions=1, key_type=str)  # JSON: the app default
    seeded = {"done": False}

    @app.agent(analyses_topic, concurrency=1)
    async def extract(stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
        async for event in stream.events():
            message = event.message
            source = (message.partition, message.offset)
            try:
                facts = extract_facts(decoder.decode(event.value), config.event_time, source)
            except PoisonMessageError as exc:
                log.error(
                    "undecodable analysis dead-lettered", extra={"reason": exc.reason, "offset": source}
                )
                await (
                    await dead_letter_topic.send(
                        key=message.key, value=message.value, headers={"reason": exc.reason.encode()}
                    )
                )
                continue
            if facts is not None:
                await (await facts_topic.send(key=b"all", value=facts.to_json()))
            yield None

    @app.agent(facts_topic, concurrency=1)
    async def aggregate(stream: faust.StreamT[dict[str, Any]]) -> AsyncIterator[None]:
        async for value in stream:
            stored = state_table.get(STATE_KEY)
            state = copy.deepcopy(stored) if stored is not None else new_state()
            if not seeded["done"]:
                state["fired"] = list(dict.fromkeys([*state["fired"], *(seed_fired or [])]))
                seeded["done"] = True
            for alert in engine.apply(state, CallFacts.from_json(value)):
                await (
                    await alerts_topic.send(key=alert.alert_id.encode(), value=alert_serde.serialize(alert))
                )
                log.info(
                    "alert raised",
                    extra={"alert_id": alert.alert_id, "rule": alert.rule, "subject": alert.subject},
                )
            state_table[STATE_KEY] = state
            yield None

    if webhook is not None:
        sender = webhook

        @app.agent(alerts_topic, concurrency=1)
        async def notify(stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
            async for value in stream:
                await sender.deliver(alert_serde.deserialize(value))
                yield None

    return AlertsJob(app=app, engine=engine)
