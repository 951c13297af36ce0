"""Entry point of the transcriber service: settings from the environment → adapters → stage runner.

python -m callpipe_transcriber
"""

from __future__ import annotations

import asyncio
import logging

import httpx

from callpipe.avro import registry_from_settings
from callpipe.avro.serde import AvroSerde
from callpipe.kafka import ensure_topics
from callpipe.models import RecordingReady, TranscriptReady
from callpipe.observability import bind_call_id, configure_logging
from callpipe.runner import MessageStage, StageRunner
from callpipe.settings import (
    KafkaSettings,
    RecordingStoreSettings,
    RunnerSettings,
    SchemaRegistrySettings,
    TopicSettings,
)
from callpipe.store import RecordingStore, open_recording_store
from callpipe_transcriber.engines.base import SpeechEngine
from callpipe_transcriber.engines.factory import build_engine
from callpipe_transcriber.fetch import AudioFetcher, FetchOptions
from callpipe_transcriber.roles import DEFAULT_AGENT_PHRASES, DEFAULT_CALLER_PHRASES, RoleCues
from callpipe_transcriber.settings import TranscriberSettings
from callpipe_transcriber.stage import TranscriberPorts, transcribe

log = logging.getLogger("callpipe.transcriber")


def build_ports(
    settings: TranscriberSettings, http: httpx.AsyncClient, store: RecordingStore, engine: SpeechEngine
) -> TranscriberPorts:
    """The stage's ports from settings (also used by the integration tests)."""
    return TranscriberPorts(
        fetcher=AudioFetcher(
            http,
            store,
            FetchOptions(
                max_bytes=settings.download_max_bytes,
                attempts=settings.download_attempts,
                twilio_account_sid=settings.twilio_account_sid,
                twilio_auth_token=settings.twilio_auth_token,
            ),
        ),
        store=store,
        engine=engine,
        cues=RoleCues(
            agent_phrases=tuple(settings.agent_phrases or DEFAULT_AGENT_PHRASES),
            caller_phrases=tuple(settings.caller_phrases or DEFAULT_CALLER_PHRASES),
            first_speaker_role=settings.first_speaker_role,
            min_confidence=settings.role_min_confidence,
        ),
        language=settings.language,
        keyterms=tuple(settings.keyterms),
        max_audio_duration_s=settings.max_audio_duration_s,
    )


def build_stage(
    topics: TopicSettings,
    recordings: AvroSerde[RecordingReady],
    transcripts: AvroSerde[TranscriptReady],
    ports: TranscriberPorts,
) -> MessageStage[RecordingReady, TranscriptReady]:
    async def handler(event: RecordingReady) -> TranscriptReady:
        with bind_call_id(event.call_id):
            transcript = await transcribe(event, ports)
            log.info(
                "transcribed",
                extra={"status": transcript.status.value, "utterances": len(transcript.utterances)},
            )
            return transcript

    return MessageStage(
        name="transcriber",
        input_topic=topics.recordings,
        decode=recordings.deserialize,
        process=handler,
        output_topic=topics.transcripts,
        encode=transcripts.serialize,
        key=lambda out: out.call_id,
    )


async def run() -> None:
    settings = TranscriberSettings()
    kafka, topics, runner_settings = KafkaSettings(), TopicSettings(), RunnerSettings()
    registry = registry_from_settings(SchemaRegistrySettings())
    recordings = AvroSerde(RecordingReady, registry, f"{topics.recordings}-value")
    transcripts = AvroSerde(TranscriptReady, registry, f"{topics.transcripts}-value")
    dead_letter = topics.dead_letter("transcriber")
    # A fresh cluster (or a new tenant prefix) has none of our topics yet: subscribing to a
    # missing input topic only logs errors forever, so create what this stage reads and writes.
    await asyncio.to_thread(ensure_topics, kafka, [topics.recordings, topics.transcripts, dead_letter])
    store = open_recording_store(RecordingStoreSettings())
    timeout = httpx.Timeout(settings.download_timeout_s, connect=10.0)
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=True) as http:
        engine = build_engine(settings, http)
        warm = getattr(engine, "warm_up", None)
        if warm is not None:
            await warm()  # load (and SHA-verify) the model before taking messages
        stage = build_stage(topics, recordings, transcripts, build_ports(settings, http, store, engine))
        runner = StageRunner(stage, kafka=kafka, runner=runner_settings, dead_letter_topic=dead_letter)
        try:
            await runner.run()
        finally:
            await engine.aclose()
            await store.aclose()


def main() -> None:
    configure_logging("transcriber")
    asyncio.run(run())


if __name__ == "__main__":
    main()
