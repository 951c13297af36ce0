"""Entry point of the alerts job: settings from the environment → rules → faust worker.

python -m callpipe_alerts
"""

from __future__ import annotations

import logging
from pathlib import Path

import faust

from callpipe.avro import registry_from_settings
from callpipe.kafka import ensure_topics
from callpipe.observability import configure_logging
from callpipe.settings import KafkaSettings, SchemaRegistrySettings, TopicSettings
from callpipe_alerts.app import JobTopics, build_job
from callpipe_alerts.config import load_config
from callpipe_alerts.replay_guard import alert_ids_on_topic
from callpipe_alerts.settings import AlertsSettings
from callpipe_alerts.webhook import WebhookSender

log = logging.getLogger("callpipe.alerts")


def main() -> None:
    configure_logging("alerts")
    kafka = KafkaSettings()
    topics = TopicSettings()
    settings = AlertsSettings()
    config = load_config(Path(settings.config_path) if settings.config_path else None)
    dead_letter = topics.dead_letter("alerts")
    # One partition: alerts are few, and one partition keeps their order for the sink and webhook.
    ensure_topics(kafka, [topics.alerts, dead_letter], partitions=1)
    ensure_topics(kafka, [topics.analyses])
    webhook = None
    if settings.webhook_url:
        secret_text = settings.webhook_secret.get_secret_value() if settings.webhook_secret else ""
        secret = secret_text.encode() if secret_text else None  # empty (compose default) = unsigned
        webhook = WebhookSender(
            settings.webhook_url,
            secret,
            max_attempts=settings.webhook_max_attempts,
            backoff_s=settings.webhook_backoff_s,
            timeout_s=settings.webhook_timeout_s,
        )
    job = build_job(
        app_id=settings.app_id,
        bootstrap_servers=kafka.bootstrap_servers,
        topics=JobTopics(analyses=topics.analyses, alerts=topics.alerts, dead_letter=dead_letter),
        config=config,
        registry=registry_from_settings(SchemaRegistrySettings()),
        seed_fired=alert_ids_on_topic(kafka.common_config(), topics.alerts),
        webhook=webhook,
        # The changelog and facts topics faust creates get the replication of every other topic:
        # a changelog on one broker loses the alert state with that broker.
        replication_factor=kafka.topic_replication,
        data_dir=settings.data_dir,
        web_host=settings.web_host,
        web_port=settings.web_port,
    )
    log.info(
        "alerts job starting", extra={"rules": [r.name for r in config.rules], "window_s": config.window_s}
    )
    # faust's worker handles SIGTERM (graceful: commits, flushes the changelog) and SIGINT.
    faust.Worker(job.app, loglevel="INFO", quiet=True).execute_from_commandline()


if __name__ == "__main__":
    main()
