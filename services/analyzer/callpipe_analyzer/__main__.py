"""Entry point of the analyzer service: its stage, run by the shared ``run_stage``.

python -m callpipe_analyzer

The runner's defaults follow the engine (``OfflineRunnerSettings`` / ``LLMRunnerSettings``);
topics, logging, metrics and shutdown are ``run_stage``'s.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

import httpx

from callpipe.avro.serde import AvroSerde
from callpipe.models import CallAnalyzed, TranscriptReady
from callpipe.observability import bind_call_id
from callpipe.runner import MessageStage, StageBuilder, StageEnvironment, StagePlan, run_stage
from callpipe.settings import RecordingStoreSettings
from callpipe.store import open_recording_store
from callpipe_analyzer.settings import AnalyzerSettings, runner_settings_for
from callpipe_analyzer.stage import analyze
from callpipe_analyzer.wiring import build_ports

log = logging.getLogger("callpipe.analyzer")


def analyzer_stage(settings: AnalyzerSettings, store_settings: RecordingStoreSettings) -> StageBuilder:
    """The analyzer's stage builder: serdes, the engine's ports, the recording store."""

    @contextlib.asynccontextmanager
    async def build(env: StageEnvironment) -> AsyncIterator[StagePlan]:
        topics = env.topics
        transcripts = AvroSerde(TranscriptReady, env.registry, f"{topics.transcripts}-value")
        analyses = AvroSerde(CallAnalyzed, env.registry, f"{topics.analyses}-value")
        limits = httpx.Limits(max_connections=settings.llm.max_concurrency + 4)
        # The archive the transcriber writes: the analyzer stores the recording's redacted copy there.
        recordings = open_recording_store(store_settings)
        try:
            async with httpx.AsyncClient(limits=limits, timeout=settings.llm.timeout_s) as http:
                ports = build_ports(settings, http_client=http, recordings=recordings)
                log.info("analyzer ready", extra={"engine": settings.engine, "model": ports.analyzer.model})

                async def handler(event: TranscriptReady) -> CallAnalyzed:
                    with bind_call_id(event.call_id):
                        result = await analyze(event, ports)
                        status = result.status.value
                        log.info("analyzed", extra={"status": status, "analyzer": result.analyzer})
                        return result

                yield StagePlan(
                    MessageStage(
                        name=settings.stage_name,
                        input_topic=topics.transcripts,
                        decode=transcripts.deserialize,
                        process=handler,
                        output_topic=topics.analyses,
                        encode=analyses.serialize,
                        key=lambda out: out.call_id,
                    )
                )
        finally:
            await recordings.aclose()

    return build


def main() -> int:
    settings = AnalyzerSettings()
    return run_stage(
        "analyzer",
        analyzer_stage(settings, RecordingStoreSettings()),
        runner_settings=runner_settings_for(settings.engine),
    )


if __name__ == "__main__":
    raise SystemExit(main())
