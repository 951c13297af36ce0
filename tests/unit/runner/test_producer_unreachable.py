"""EventProducer without a broker: send must fail with DependencyUnavailableError, not hang."""

import socket
import time

import pytest

from callpipe.errors import DependencyUnavailableError
from callpipe.kafka import EventProducer
from callpipe.settings import KafkaSettings


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_send_raises_dependency_unavailable_after_the_delivery_timeout():
    producer = EventProducer(
        KafkaSettings(bootstrap_servers=f"127.0.0.1:{closed_port()}"), delivery_timeout_s=1.5
    )
    began = time.monotonic()
    try:
        with pytest.raises(DependencyUnavailableError, match=r"delivery to 'callpipe\.recordings' failed"):
            await producer.send("callpipe.recordings", "CA1", b"{}")
    finally:
        producer.close(timeout_s=1)
    assert time.monotonic() - began < 10
