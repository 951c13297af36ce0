"""librdkafka's log lines come out as our JSON lines (with the stage), not raw on stderr."""

from __future__ import annotations

import io
import json
import logging
import socket
import subprocess
import sys
import textwrap

from callpipe.kafka import LIBRDKAFKA_LOGGER, KafkaClientLogger, consumer_config, producer_config
from callpipe.observability import JsonFormatter
from callpipe.settings import KafkaSettings


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_call_confluent_kafka_makes_becomes_a_structured_json_line():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("transcriber"))
    logger = logging.getLogger(LIBRDKAFKA_LOGGER)
    logger.addHandler(handler)
    try:
        # Exactly the call confluent-kafka makes (syslog level 3 already mapped to ERROR).
        KafkaClientLogger("producer", "transcriber").log(
            logging.ERROR, "%s [%s] %s", "FAIL", "rdkafka#producer-1", "Connect to 127.0.0.1:1 failed"
        )
    finally:
        logger.removeHandler(handler)
    line = json.loads(stream.getvalue())
    assert line["level"] == "ERROR"
    assert line["msg"] == "Connect to 127.0.0.1:1 failed"
    assert line["stage"] == "transcriber"
    assert line["kafka_client"] == "producer"
    assert line["kafka_facility"] == "FAIL"
    assert line["kafka_instance"] == "rdkafka#producer-1"
    assert line["logger"] == LIBRDKAFKA_LOGGER


def test_stage_configs_carry_the_logger():
    kafka = KafkaSettings()
    consumer = consumer_config(kafka, "analyzer")["logger"]
    producer = producer_config(kafka, stage="analyzer")["logger"]
    assert (consumer.client, consumer.stage) == ("consumer", "analyzer")
    assert (producer.client, producer.stage) == ("producer", "analyzer")


# A real producer, consumer and admin client against a closed port: librdkafka logs FAIL lines.
_CHILD = textwrap.dedent(
    """
    import asyncio, sys, time
    from confluent_kafka import Consumer
    from callpipe.errors import DependencyUnavailableError
    from callpipe.kafka import EventProducer, consumer_config, ensure_topics
    from callpipe.observability import configure_logging
    from callpipe.settings import KafkaSettings

    configure_logging("transcriber", "INFO")
    kafka = KafkaSettings(bootstrap_servers=sys.argv[1])

    async def produce():
        producer = EventProducer(kafka, delivery_timeout_s=1.0, stage="transcriber")
        try:
            await producer.send("callpipe.transcripts", "CA1", b"{}")
        except DependencyUnavailableError:
            pass
        finally:
            producer.close(timeout_s=0.5)

    asyncio.run(produce())
    consumer = Consumer(consumer_config(kafka, "transcriber"))
    consumer.subscribe(["callpipe.recordings"])
    end = time.monotonic() + 1.0
    while time.monotonic() < end:
        consumer.poll(0.1)
    consumer.close()
    try:
        ensure_topics(kafka, ["callpipe.x"], timeout_s=1.0)
    except DependencyUnavailableError:
        pass
    """
)


def test_real_clients_with_the_broker_down_write_only_json_lines():
    result = subprocess.run(
        [sys.executable, "-c", _CHILD, f"127.0.0.1:{closed_port()}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines
    assert not [line for line in lines if line.startswith("%")], "raw librdkafka lines on stderr"
    entries = [json.loads(line) for line in lines]  # every line is JSON
    librdkafka = [e for e in entries if e["logger"] == LIBRDKAFKA_LOGGER]
    clients = {e["kafka_client"] for e in librdkafka}
    assert clients == {"producer", "consumer", "admin"}, clients
    fails = [e for e in librdkafka if e["kafka_facility"] == "FAIL"]
    assert fails and all(e["level"] in {"ERROR", "WARNING"} for e in fails)
    assert all(e["stage"] == "transcriber" for e in librdkafka if e["kafka_client"] != "admin")
    assert all(e["service"] == "transcriber" for e in entries)
