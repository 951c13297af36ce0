"""Entry point of the sink service: settings from the environment → warehouse → batch stage.

    python -m callpipe_sink            # sink; with embedded chdb also the insights API
    python -m callpipe_sink insights   # insights API only (a ClickHouse server: CLICKHOUSE_URL)
    python -m callpipe_sink migrate    # apply the migrations and exit

chdb lets one process open a data directory (a second one cannot lock it), so in embedded mode
the insights API runs inside the sink process, on the same client. With a server it runs there too by default
(INSIGHTS_ENABLED=false turns it off) or on its own with the ``insights`` mode.

The ``sink`` mode is a consumer stage like the others, run by the shared ``run_stage`` (topics,
logging, metrics, shutdown); the insights API and the call-status reader are its companions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import uvicorn

from callpipe.avro import registry_from_settings
from callpipe.errors import DependencyUnavailableError
from callpipe.kafka import EventProducer, ensure_topics
from callpipe.observability import configure_logging
from callpipe.runner import BatchStage, Companion, StageBuilder, StageEnvironment, StagePlan, run_stage
from callpipe.settings import (
    KafkaSettings,
    RecordingStoreSettings,
    RetentionSettings,
    SchemaRegistrySettings,
    TopicSettings,
)
from callpipe.store import AudioRetention, SweepableStore, open_recording_store
from callpipe_sink.alerts_store import AlertsConsumer
from callpipe_sink.avro_batch import AnalysisPayload, SchemaResolver, decode_analysis
from callpipe_sink.insights import create_app
from callpipe_sink.insights.admin_routes import ReprocessJobs
from callpipe_sink.lifecycle import EventTopics
from callpipe_sink.lifecycle.erasure import Eraser
from callpipe_sink.lifecycle.events_consumer import DEAD_LETTER_STAGES, CallEventsConsumer
from callpipe_sink.lifecycle.reprocess import Reprocessor
from callpipe_sink.lifecycle.reprocess_sender import KafkaSender
from callpipe_sink.retention import apply_ttls, audio_retention, sweep_periodically
from callpipe_sink.settings import InsightsSettings, SinkRunnerSettings, WarehouseSettings
from callpipe_sink.warehouse import Warehouse, apply_migrations, open_warehouse
from callpipe_sink.writer import SINK_CONSUMER_OVERRIDES, SinkWriter

log = logging.getLogger("callpipe.sink")


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its own signal handling: the sink's handler stops both it and the runner."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def _open_and_migrate(settings: WarehouseSettings, stopping: asyncio.Event) -> Warehouse | None:
    """A server may come up after the sink: retry with backoff until it answers (or we stop)."""
    delay = 0.5
    while not stopping.is_set():
        try:
            warehouse = open_warehouse(settings)
            applied = apply_migrations(warehouse)
            log.info("warehouse ready", extra={"migrations_applied": applied, "embedded": warehouse.embedded})
            return warehouse
        except DependencyUnavailableError as exc:
            log.warning("warehouse unavailable, retrying", extra={"error": exc.reason, "retry_in_s": delay})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), delay)
            delay = min(delay * 2, 30.0)
    return None


class _RetentionSweep:
    """The recording-store sweep as a companion of the sink stage (every RETENTION_SWEEP_INTERVAL_S)."""

    def __init__(self, store: SweepableStore, audio: AudioRetention, interval_s: float) -> None:
        self._store, self._audio, self._interval_s = store, audio, interval_s
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        await sweep_periodically(self._store, self._audio, self._interval_s, self._stopping)

    def stop(self) -> None:
        self._stopping.set()


async def _start_retention(
    warehouse: Warehouse, retention: RetentionSettings, store: SweepableStore | None
) -> _RetentionSweep | None:
    """TTLs from the settings; with a ``store`` (the sink's, not migrate mode's), the S3
    lifecycle rule and the periodic store sweep."""
    changed = await asyncio.to_thread(apply_ttls, warehouse, retention)
    log.info("retention applied", extra={"ttl_statements": len(changed)})
    audio = audio_retention(retention)
    if store is None or not (audio.enabled or retention.s3_lifecycle):
        return None
    if retention.s3_lifecycle:
        from callpipe.store._s3 import S3RecordingStore  # only S3 has lifecycle rules

        if isinstance(store, S3RecordingStore):
            rules = await store.apply_lifecycle(retention.audio_days)
            log.info("S3 lifecycle rules set", extra={"rules": len(rules)})
        else:
            log.warning("RETENTION_S3_LIFECYCLE is set but the recording store is not S3: ignored")
    if not audio.enabled or retention.sweep_interval_s == 0:
        return None
    return _RetentionSweep(store, audio, retention.sweep_interval_s)


def _api_server(
    warehouse: Warehouse, insights: InsightsSettings, recordings: SweepableStore
) -> _EmbeddedServer:
    # The erasure endpoint deletes audio too: the same recording store ingest and transcriber use.
    # The same store serves playback of a call's audio on the page.
    eraser = Eraser(warehouse, recordings)
    reprocess: ReprocessJobs | None = None
    if insights.admin_token is not None or insights.oidc.enabled:
        # Reprocessing publishes to the stages' topics: a producer only where admins can use it.
        sender = KafkaSender(
            EventProducer(KafkaSettings(), stage="reprocess"),
            registry_from_settings(SchemaRegistrySettings()),
            TopicSettings(),
        )
        reprocess = ReprocessJobs(Reprocessor(warehouse), sender, Path(insights.reprocess_checkpoint_dir))
    app = create_app(warehouse, insights, eraser=eraser, recordings=recordings, reprocess=reprocess)
    config = uvicorn.Config(app, host=insights.host, port=insights.port, log_config=None, access_log=False)
    return _EmbeddedServer(config)


class _InsightsAPI:
    """The insights API as a companion of the sink stage (stopped with it, and it with the stage)."""

    def __init__(self, server: _EmbeddedServer) -> None:
        self._server = server

    async def run(self) -> None:
        await self._server.serve()

    def stop(self) -> None:
        self._server.should_exit = True


def sink_stage(warehouse_settings: WarehouseSettings, insights: InsightsSettings) -> StageBuilder:
    """The sink's stage builder: the warehouse (migrated), the batch writer, and its companions:
    the per-call status reader and, unless INSIGHTS_ENABLED=false, the insights API."""

    @contextlib.asynccontextmanager
    async def build(env: StageEnvironment) -> AsyncIterator[StagePlan | None]:
        warehouse = await _open_and_migrate(warehouse_settings, env.stopping)
        if warehouse is None:
            yield None  # stopped while the warehouse was still unreachable
            return
        recordings: SweepableStore | None = None
        try:
            # One recording store for the process: the retention sweep, erasure and playback.
            recordings = open_recording_store(RecordingStoreSettings())
            # The process that migrates also sets the TTLs and sweeps the store (insights-only
            # processes do neither).
            sweep = await _start_retention(warehouse, RetentionSettings(), recordings)
            topics = env.topics
            writer = SinkWriter(warehouse, SchemaResolver(env.registry))
            stage: BatchStage[AnalysisPayload] = BatchStage(
                name="sink",
                input_topic=topics.analyses,
                decode=decode_analysis,
                process_batch=writer.process_batch,
            )
            # Per-call status (call_events): its own consumer group, so it never slows the batches.
            event_topics = EventTopics(
                topics.recordings, topics.transcripts, topics.call_events, topics.dead_letter_prefix
            )
            companions: dict[str, Companion] = {
                "sink-events": CallEventsConsumer(
                    warehouse,
                    env.kafka,
                    event_topics,
                    env.runner,
                    consumer_factory=env.clients.consumer,
                    registry=env.registry,  # the received events note the audio, for erasure
                )
            }
            # Alerts from the alerts job (alerts table, GET /alerts): its own group as well; one
            # partition, so the alerts keep their order.
            await asyncio.to_thread(
                ensure_topics, env.kafka, [topics.alerts], 1, admin_factory=env.clients.admin
            )
            companions["sink-alerts"] = AlertsConsumer(
                warehouse, env.kafka, topics.alerts, env.registry, env.runner
            )
            if sweep is not None:
                companions["sink-retention"] = sweep
            # With a server the API may also run on its own (mode "insights"); in embedded mode it
            # must run here, since no other process can open the chdb directory.
            if insights.enabled:
                companions["insights-api"] = _InsightsAPI(_api_server(warehouse, insights, recordings))
                log.info("insights API listening", extra={"host": insights.host, "port": insights.port})
            yield StagePlan(
                stage,
                extra_topics=tuple(event_topics.all(DEAD_LETTER_STAGES)),
                consumer_overrides=SINK_CONSUMER_OVERRIDES,
                companions=companions,
            )
        finally:
            if recordings is not None:
                await recordings.aclose()
            warehouse.close()

    return build


async def run_without_stage(
    mode: str, warehouse_settings: WarehouseSettings, insights: InsightsSettings
) -> int:
    """``migrate`` (apply and exit) and ``insights`` (the API alone, with a ClickHouse server)."""
    stopping = asyncio.Event()
    server: _EmbeddedServer | None = None

    def stop() -> None:
        stopping.set()
        if server is not None:
            server.should_exit = True

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)
    warehouse = await _open_and_migrate(warehouse_settings, stopping)
    if warehouse is None:
        return 0
    try:
        if mode == "migrate":
            await _start_retention(warehouse, RetentionSettings(), None)
        if mode == "insights":
            recordings = open_recording_store(RecordingStoreSettings())
            try:
                server = _api_server(warehouse, insights, recordings)
                log.info("insights API listening", extra={"host": insights.host, "port": insights.port})
                await server.serve()
            finally:
                await recordings.aclose()
        return 0
    finally:
        warehouse.close()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    mode = args[0] if args else "sink"
    if mode not in ("sink", "insights", "migrate"):
        print("usage: python -m callpipe_sink [sink|insights|migrate]", file=sys.stderr)
        return 2
    warehouse_settings, insights = WarehouseSettings(), InsightsSettings()
    if mode == "sink":
        return run_stage("sink", sink_stage(warehouse_settings, insights), runner_settings=SinkRunnerSettings)
    configure_logging("sink")
    return asyncio.run(run_without_stage(mode, warehouse_settings, insights))


if __name__ == "__main__":
    raise SystemExit(main())
