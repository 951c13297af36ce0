"""``callpipe bench call-status``: how fast a failed or declined call shows its status and reason.

Three calls go through the real broker and real stage runners (stand-in stage functions that
fail the way the real ones do), the sink's events consumer writes ``call_events`` into chdb, and
``GET /calls/{id}/status`` on the insights app is polled until it answers the final state:

- ``bad-file``: the transcriber stage rejects the audio (InvalidInputError → dead letter at once);
- ``dead-lettered``: the analyzer stage fails transiently until the attempt budget is spent;
- ``consent-declined``: ingest's consent_declined fact on ``callpipe.call-events``.

Printed: seconds from the records produced to the API answering each state, for a cold round
(the consumers join their groups on a fresh broker) and a warm one (services already running). Uses
KAFKA_BOOTSTRAP_SERVERS when set, else starts a LocalKafka for the run; chdb in a temp dir.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from confluent_kafka import Producer
from pydantic import SecretStr

from callpipe.errors import InvalidInputError, TransientError
from callpipe.kafka import ensure_topics
from callpipe.runner import MessageStage, StageRunner
from callpipe.settings import KafkaSettings, RunnerSettings
from callpipe_sink.insights import create_app
from callpipe_sink.lifecycle import EventTopics
from callpipe_sink.lifecycle.events_consumer import CallEventsConsumer
from callpipe_sink.settings import InsightsSettings
from callpipe_sink.warehouse import Warehouse

__all__ = ["PROBE_TOKEN", "ProbeTopics", "StatusProbe", "main"]

PROBE_TOKEN = "probe-token-0123456789abcdef"  # noqa: S105 - a throwaway token of the probe app
BAD_AUDIO = b"RIFF\x24\x00\x00\x00WAVEfmt "  # a WAV header cut short: nothing decodes


@dataclass(frozen=True)
class ProbeTopics:
    prefix: str

    @property
    def events(self) -> EventTopics:
        return EventTopics(
            f"{self.prefix}.recordings", f"{self.prefix}.transcripts", f"{self.prefix}.call-events",
            f"{self.prefix}.dlq",
        )  # fmt: skip

    def dead_letter(self, stage: str) -> str:
        return f"{self.prefix}.dlq.{stage}"


# Stand-in events are "<call id>|<payload>": the stages key their output by the call id, as the
# real ones do with ``out.call_id``, so the key travels on to a later stage's dead letter.
def _call_id(value: bytes) -> str:
    return value.split(b"|", 1)[0].decode()


async def _transcribe(value: bytes) -> bytes:
    payload = value.split(b"|", 1)[1]
    if payload.startswith(b"RIFF") and len(payload) < 44:
        raise InvalidInputError(f"audio undecodable: WAV header truncated ({len(payload)} of 44 bytes)")
    return value


async def _analyze(value: bytes) -> None:
    if value.split(b"|", 1)[1] == b"fails-analysis":
        raise TransientError("LLM endpoint answered 503 Service Unavailable")


class StatusProbe:
    """Topics, two stage runners, the events consumer and the insights app, for one run."""

    def __init__(self, bootstrap: str, warehouse: Warehouse, *, max_attempts: int = 2) -> None:
        self.bootstrap = bootstrap
        self.topics = ProbeTopics(f"probe{uuid.uuid4().hex[:8]}")
        self.kafka = KafkaSettings(bootstrap_servers=bootstrap)
        self.runner_settings = RunnerSettings(
            max_attempts=max_attempts, backoff_initial_s=0.05, backoff_max_s=0.2, commit_interval_s=0.2,
            group_prefix=self.topics.prefix,
        )  # fmt: skip
        ev = self.topics.events
        ensure_topics(
            self.kafka,
            [*ev.all(("transcriber", "analyzer", "sink"))],
            partitions=1,
        )
        self.consumer = CallEventsConsumer(warehouse, self.kafka, ev, self.runner_settings)
        self.runners = [
            StageRunner(
                MessageStage(
                    name="transcriber", input_topic=ev.recordings, decode=bytes, process=_transcribe,
                    output_topic=ev.transcripts, encode=bytes, key=_call_id,
                ),
                kafka=self.kafka, runner=self.runner_settings,
                dead_letter_topic=self.topics.dead_letter("transcriber"), install_signal_handlers=False,
            ),
            StageRunner(
                MessageStage(name="analyzer", input_topic=ev.transcripts, decode=bytes, process=_analyze),
                kafka=self.kafka, runner=self.runner_settings,
                dead_letter_topic=self.topics.dead_letter("analyzer"), install_signal_handlers=False,
            ),
        ]  # fmt: skip
        settings = InsightsSettings(token=SecretStr(PROBE_TOKEN))
        self.app = create_app(warehouse, settings)
        self.tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self.tasks = [asyncio.create_task(r.run()) for r in self.runners]
        self.tasks.append(asyncio.create_task(self.consumer.run()))

    async def stop(self) -> None:
        for runner in self.runners:
            runner.stop()
        self.consumer.stop()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    def produce_calls(self, run_id: str) -> dict[str, str]:
        """Produce the three calls; returns call id → the state the API must reach."""
        ev = self.topics.events
        ids = {name: f"{name}-{run_id}" for name in ("bad-file", "dead-lettered", "consent-declined")}
        producer = Producer({"bootstrap.servers": self.bootstrap, "enable.idempotence": True})
        for name, payload in (("bad-file", BAD_AUDIO), ("dead-lettered", b"fails-analysis")):
            producer.produce(ev.recordings, key=ids[name], value=ids[name].encode() + b"|" + payload)
        fact = {
            "type": "consent_declined", "call_id": ids["consent-declined"], "via": "dtmf",
            "at": datetime.now(UTC).isoformat(),
        }  # fmt: skip
        producer.produce(ev.call_events, key=ids["consent-declined"], value=json.dumps(fact).encode())
        if producer.flush(30) != 0:
            raise RuntimeError("probe records not acknowledged by the broker")
        return {
            ids["bad-file"]: "failed",
            ids["dead-lettered"]: "failed",
            ids["consent-declined"]: "consent_declined",
        }

    async def wait_for_states(self, expected: dict[str, str], timeout_s: float = 120.0) -> dict[str, Any]:
        """Poll the API until each call answers its expected state: call id → (seconds, body)."""
        started = time.perf_counter()
        seen: dict[str, Any] = {}
        transport = httpx.ASGITransport(app=self.app)
        headers = {"Authorization": f"Bearer {PROBE_TOKEN}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://probe", headers=headers) as client:
            while len(seen) < len(expected) and time.perf_counter() - started < timeout_s:
                for call_id, state in expected.items():
                    if call_id in seen:
                        continue
                    answer = await client.get(f"/calls/{call_id}/status")
                    if answer.status_code == 200 and answer.json()["state"] == state:
                        seen[call_id] = (time.perf_counter() - started, answer.json())
                await asyncio.sleep(0.05)
        return seen


@contextlib.contextmanager
def _bootstrap() -> Iterator[str]:
    given = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if given:
        yield given
        return
    from callpipe_tools.local import LocalKafka

    with LocalKafka() as kafka:
        yield kafka.bootstrap_servers


def _print_round(title: str, expected: dict[str, str], seen: dict[str, Any]) -> None:
    print(f"\n{title}\n{'call':<28} {'state':<17} {'seconds':>7}  stage: reason")
    for call_id, state in expected.items():
        if call_id not in seen:
            print(f"{call_id:<28} {'NOT SEEN':<17} {'-':>7}")
            continue
        seconds, body = seen[call_id]
        print(f"{call_id:<28} {state:<17} {seconds:7.2f}  {body['stage']}: {body['reason']}")


async def _run(bootstrap: str, warehouse: Warehouse) -> int:
    """Two rounds: cold (the consumers join their groups on the first records), then warm."""
    probe = StatusProbe(bootstrap, warehouse)
    await probe.start()
    complete = True
    try:
        for title in ("cold: consumer groups joining", "warm: services already running"):
            expected = probe.produce_calls(uuid.uuid4().hex[:6])
            seen = await probe.wait_for_states(expected)
            _print_round(title, expected, seen)
            complete = complete and len(seen) == len(expected)
    finally:
        await probe.stop()
    return 0 if complete else 1


def main(argv: list[str] | None = None) -> int:
    del argv
    import clickhouse_connect

    from callpipe_sink.warehouse import apply_migrations

    with tempfile.TemporaryDirectory() as chdb_dir, _bootstrap() as bootstrap:
        client = clickhouse_connect.get_client(interface="chdb", path=chdb_dir)
        warehouse = Warehouse(client, "probe", embedded=True)
        apply_migrations(warehouse)
        try:
            return asyncio.run(_run(bootstrap, warehouse))
        finally:
            warehouse.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
