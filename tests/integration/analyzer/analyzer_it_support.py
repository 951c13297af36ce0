"""Helpers for the analyzer's broker tests: Avro serdes, produce, read back, run a runner."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable

from confluent_kafka import Message
from prometheus_client import REGISTRY

from callpipe.avro import AvroSerde, LocalSchemaRegistry
from callpipe.models import CallAnalyzed, TranscriptReady
from callpipe.runner import MessageStage, StageRunner
from callpipe.settings import KafkaSettings, RunnerSettings
from callpipe_analyzer.ports import AnalyzerPorts
from callpipe_analyzer.stage import analyze
from tests.integration import kafka_support

FAST = RunnerSettings(
    max_in_flight=4,
    max_attempts=3,
    backoff_initial_s=0.05,
    backoff_max_s=0.2,
    commit_interval_s=0.2,
    drain_timeout_s=10,
)


def produce(bootstrap: str, topic: str, records: list[tuple[str, bytes]]) -> None:
    kafka_support.produce(bootstrap, topic, records)


def read_all(bootstrap: str, topic: str, expected: int, timeout: float = 60.0) -> list[Message]:
    return kafka_support.read_topic(bootstrap, topic, expected, timeout, grace_s=0.5)


def headers_of(message: Message) -> dict[str, str]:
    raw = message.headers() or []
    pairs = raw.items() if isinstance(raw, dict) else raw
    return {k: v.decode() if isinstance(v, bytes) else (v or "") for k, v in pairs}


class Topics:
    """Fresh input/output/dead-letter topics and the serdes for them."""

    def __init__(self, bootstrap: str, new_topic: Callable[..., str]) -> None:
        self.bootstrap = bootstrap
        self.stage = f"analyzer-it-{uuid.uuid4().hex[:8]}"
        self.transcripts = new_topic(1, prefix="it-transcripts")
        self.analyses = new_topic(1, prefix="it-analyses")
        self.dead_letter = new_topic(1, prefix="it-dlq")
        registry = LocalSchemaRegistry.from_directory()
        self.transcript_serde = AvroSerde(TranscriptReady, registry, f"{self.transcripts}-value")
        self.analysis_serde = AvroSerde(CallAnalyzed, registry, f"{self.analyses}-value")

    def send(self, *events: TranscriptReady) -> None:
        produce(
            self.bootstrap,
            self.transcripts,
            [(e.call_id, self.transcript_serde.serialize(e)) for e in events],
        )

    def send_raw(self, key: str, value: bytes) -> None:
        produce(self.bootstrap, self.transcripts, [(key, value)])

    def runner(self, ports: AnalyzerPorts) -> StageRunner:
        stage: MessageStage[TranscriptReady, CallAnalyzed] = MessageStage(
            name=self.stage,
            input_topic=self.transcripts,
            decode=self.transcript_serde.deserialize,
            process=lambda event: analyze(event, ports),
            output_topic=self.analyses,
            encode=self.analysis_serde.serialize,
            key=lambda out: out.call_id,
        )
        return StageRunner(
            stage,
            kafka=KafkaSettings(bootstrap_servers=self.bootstrap),
            runner=FAST,
            dead_letter_topic=self.dead_letter,
            install_signal_handlers=False,
        )


def finished(stage: str) -> float:
    """Messages the stage finished: produced an output or dead-lettered (runner metrics)."""
    done = REGISTRY.get_sample_value("callpipe_runner_processed_total", {"stage": stage}) or 0.0
    for metric in REGISTRY.collect():
        if metric.name == "callpipe_runner_dead_lettered":
            done += sum(
                s.value
                for s in metric.samples
                if s.name.endswith("_total") and s.labels.get("stage") == stage
            )
    return done


async def run_until_finished(runner: StageRunner, count: int, limit_s: float = 90.0) -> None:
    """Run the runner until ``count`` messages were produced or dead-lettered, then stop it."""
    task = asyncio.create_task(runner.run())
    try:
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline and not task.done():
            if finished(runner.stage.name) >= count:
                break
            await asyncio.sleep(0.1)
        assert finished(runner.stage.name) >= count, f"only {finished(runner.stage.name)} of {count} finished"
        assert not task.done(), f"runner exited early: {task.exception() if task.done() else ''}"
    finally:
        runner.stop()
        await asyncio.wait_for(task, 30)
