"""Entry point of the transcriber service: its stage, run by the shared ``run_stage``.

python -m callpipe_transcriber

Topics, logging, metrics and shutdown are ``run_stage``'s; the runner uses ``RunnerSettings``
as declared (the transcriber has no defaults of its own).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

import httpx

from callpipe.avro.serde import AvroSerde
from callpipe.models import RecordingReady, TranscriptReady
from callpipe.observability import bind_call_id
from callpipe.runner import MessageStage, StageBuilder, StageEnvironment, StagePlan, run_stage
from callpipe.settings import RecordingStoreSettings, TopicSettings
from callpipe.store import RecordingStore, open_recording_store
from callpipe_transcriber.engines.base import SpeechEngine
from callpipe_transcriber.engines.factory import build_engine
from callpipe_transcriber.fetch import AudioFetcher, FetchOptions, guarded_client
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
                allow_private_urls=settings.allow_private_urls,
                allowed_hosts=tuple(settings.download_hosts),
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


def transcriber_stage(settings: TranscriberSettings, store_settings: RecordingStoreSettings) -> StageBuilder:
    """The transcriber's stage builder: serdes, the recording store, HTTP client and engine."""

    @contextlib.asynccontextmanager
    async def build(env: StageEnvironment) -> AsyncIterator[StagePlan]:
        topics = env.topics
        recordings = AvroSerde(RecordingReady, env.registry, f"{topics.recordings}-value")
        transcripts = AvroSerde(TranscriptReady, env.registry, f"{topics.transcripts}-value")
        store = open_recording_store(store_settings)
        timeout = httpx.Timeout(settings.download_timeout_s, connect=10.0)
        try:
            # Recording downloads take URLs from events, so they go through the SSRF guard (every
            # resolved address checked at connect time, on every redirect hop); the speech API
            # client does not.
            async with (
                httpx.AsyncClient(timeout=timeout, follow_redirects=True) as http,
                guarded_client(timeout, allow_private=settings.allow_private_urls) as downloads,
            ):
                engine = build_engine(settings, http)
                try:
                    await engine.warm_up()  # load (and SHA-verify) the model before taking messages
                    ports = build_ports(settings, downloads, store, engine)
                    yield StagePlan(build_stage(topics, recordings, transcripts, ports))
                finally:
                    await engine.aclose()
        finally:
            await store.aclose()

    return build


def main() -> int:
    return run_stage("transcriber", transcriber_stage(TranscriberSettings(), RecordingStoreSettings()))


if __name__ == "__main__":
    raise SystemExit(main())
