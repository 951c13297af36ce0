"""Entry point of the analyzer service: settings from the environment → adapters → stage runner.

python -m callpipe_analyzer
"""

from __future__ import annotations

import asyncio
import logging
import os

import httpx
from pydantic import SecretStr

from callpipe.avro import registry_from_settings
from callpipe.avro.serde import AvroSerde
from callpipe.models import CallAnalyzed, TranscriptReady
from callpipe.observability import bind_call_id, configure_logging
from callpipe.runner import MessageStage, StageRunner
from callpipe.settings import (
    KafkaSettings,
    RecordingStoreSettings,
    RunnerSettings,
    SchemaRegistrySettings,
    TopicSettings,
)
from callpipe.store import open_recording_store
from callpipe_analyzer.settings import AnalyzerSettings
from callpipe_analyzer.stage import analyze
from callpipe_analyzer.wiring import build_ports

log = logging.getLogger("callpipe.analyzer")


async def run() -> None:
    settings = AnalyzerSettings()
    if settings.engine == "llm" and settings.llm.api_key is None and os.environ.get("OPENAI_API_KEY"):
        # The OpenAI convention, accepted so users need not rename their key.
        settings.llm.api_key = SecretStr(os.environ["OPENAI_API_KEY"])
    kafka, topics, runner_settings = KafkaSettings(), TopicSettings(), RunnerSettings()
    if "RUNNER_MAX_IN_FLIGHT" not in os.environ:
        # An LLM call is ~1 s of waiting: the runner's slots follow the LLM concurrency so one
        # instance keeps that many requests in flight. Offline analysis is CPU-bound and its
        # encoder already uses every core through BLAS threads: one call at a time (two calls at
        # once, each with multi-threaded BLAS, measured 3× slower on 2 cores).
        in_flight = settings.llm.max_concurrency if settings.engine == "llm" else 1
        runner_settings = runner_settings.model_copy(update={"max_in_flight": in_flight})
    registry = registry_from_settings(SchemaRegistrySettings())
    transcripts = AvroSerde(TranscriptReady, registry, f"{topics.transcripts}-value")
    analyses = AvroSerde(CallAnalyzed, registry, f"{topics.analyses}-value")
    limits = httpx.Limits(max_connections=settings.llm.max_concurrency + 4)
    # The archive the transcriber writes: the analyzer stores the recording's redacted copy there.
    recordings = open_recording_store(RecordingStoreSettings())
    async with httpx.AsyncClient(limits=limits, timeout=settings.llm.timeout_s) as http:
        ports = build_ports(settings, http_client=http, recordings=recordings)
        log.info("analyzer ready", extra={"engine": settings.engine, "model": ports.analyzer.model})

        async def handler(event: TranscriptReady) -> CallAnalyzed:
            with bind_call_id(event.call_id):
                result = await analyze(event, ports)
                log.info("analyzed", extra={"status": result.status.value, "analyzer": result.analyzer})
                return result

        stage = MessageStage(
            name=settings.stage_name,
            input_topic=topics.transcripts,
            decode=transcripts.deserialize,
            process=handler,
            output_topic=topics.analyses,
            encode=analyses.serialize,
            key=lambda out: out.call_id,
        )
        runner = StageRunner(
            stage,
            kafka=kafka,
            runner=runner_settings,
            dead_letter_topic=topics.dead_letter(settings.stage_name),
        )
        try:
            await runner.run()
        finally:
            await recordings.aclose()


def main() -> None:
    configure_logging("analyzer")
    asyncio.run(run())


if __name__ == "__main__":
    main()
