"""Kafka plumbing shared by the services: the acknowledged producer, topic creation, consumer config.

The only package (with the stage runner) that imports confluent-kafka's producer/consumer/admin.
"""

from callpipe.kafka._client_logs import LIBRDKAFKA_LOGGER, KafkaClientLogger
from callpipe.kafka._clients import AdminFactory, ConsumerFactory, KafkaClients
from callpipe.kafka._consumer_config import consumer_config, group_id_for
from callpipe.kafka._producer import (
    EventProducer,
    ProducerFactory,
    delivery_error_to_callpipe,
    is_fatal,
    producer_config,
)
from callpipe.kafka._topics import ensure_topics, topic_config

__all__ = [
    "LIBRDKAFKA_LOGGER",
    "AdminFactory",
    "ConsumerFactory",
    "EventProducer",
    "KafkaClientLogger",
    "KafkaClients",
    "ProducerFactory",
    "consumer_config",
    "delivery_error_to_callpipe",
    "ensure_topics",
    "group_id_for",
    "is_fatal",
    "producer_config",
    "topic_config",
]
