"""Entry point of the sink service: settings from the environment → warehouse → batch stage.

    python -m callpipe_sink            # sink; with embedded chdb also the insights API
    python -m callpipe_sink insights   # insights API only (a ClickHouse server: CLICKHOUSE_URL)
    python -m callpipe_sink migrate    # apply the migrations and exit

chdb lets one process open a data directory (a second one cannot lock it), so in embedded mode
the insights API runs inside the sink process, on the same client. With a server it runs there too by default
(INSIGHTS_ENABLED=false turns it off) or on its own with the ``insights`` mode.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Iterator

import uvicorn

from callpipe.avro import registry_from_settings
from callpipe.errors import DependencyUnavailableError
from callpipe.kafka import ensure_topics
from callpipe.observability import configure_logging
from callpipe.runner import BatchStage, StageRunner
from callpipe.settings import (
    KafkaSettings,
    RecordingStoreSettings,
    RetentionSettings,
    SchemaRegistrySettings,
    TopicSettings,
)
from callpipe.store import SweepableStore, open_recording_store
from callpipe_sink.avro_batch import AnalysisPayload, SchemaResolver, decode_analysis
from callpipe_sink.insights import create_app
from callpipe_sink.lifecycle import EventTopics
from callpipe_sink.lifecycle.erasure import Eraser
from callpipe_sink.lifecycle.events_consumer import DEAD_LETTER_STAGES, CallEventsConsumer
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


async def _start_retention(
    warehouse: Warehouse, retention: RetentionSettings, stopping: asyncio.Event, *, sweep: bool
) -> tuple[SweepableStore | None, asyncio.Task[None] | None]:
    """TTLs from the settings; with ``sweep``, the S3 lifecycle rule and the periodic store sweep."""
    changed = apply_ttls(warehouse, retention)
    log.info("retention applied", extra={"ttl_statements": len(changed)})
    audio = audio_retention(retention)
    if not sweep or not (audio.enabled or retention.s3_lifecycle):
        return None, None
    store = open_recording_store(RecordingStoreSettings())
    if retention.s3_lifecycle:
        from callpipe.store._s3 import S3RecordingStore  # only S3 has lifecycle rules

        if isinstance(store, S3RecordingStore):
            rules = await store.apply_lifecycle(retention.audio_days)
            log.info("S3 lifecycle rules set", extra={"rules": len(rules)})
        else:
            log.warning("RETENTION_S3_LIFECYCLE is set but the recording store is not S3: ignored")
    if not audio.enabled or retention.sweep_interval_s == 0:
        return store, None
    task = asyncio.create_task(
        sweep_periodically(store, audio, retention.sweep_interval_s, stopping), name="sink-retention"
    )
    return store, task


def _api_server(warehouse: Warehouse, insights: InsightsSettings) -> _EmbeddedServer:
    # The erasure endpoint deletes audio too: the same recording store ingest and transcriber use.
    # The same store serves playback of a call's audio on the page.
    recordings = open_recording_store(RecordingStoreSettings())
    eraser = Eraser(warehouse, recordings)
    app = create_app(warehouse, insights, eraser=eraser, recordings=recordings)
    config = uvicorn.Config(app, host=insights.host, port=insights.port, log_config=None, access_log=False)
    return _EmbeddedServer(config)


async def run(mode: str) -> int:
    warehouse_settings = WarehouseSettings()
    insights = InsightsSettings()
    stopping = asyncio.Event()
    runner: StageRunner | None = None
    server: _EmbeddedServer | None = None
    events: CallEventsConsumer | None = None

    def stop() -> None:
        stopping.set()
        if runner is not None:
            runner.stop()
        if events is not None:
            events.stop()
        if server is not None:
            server.should_exit = True

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)

    warehouse = await _open_and_migrate(warehouse_settings, stopping)
    if warehouse is None:
        return 0
    swept_store: SweepableStore | None = None
    try:
        tasks: list[asyncio.Task[None]] = []
        # The process that migrates also sets the TTLs; an insights-only process does neither.
        if mode in ("sink", "migrate"):
            swept_store, sweeper = await _start_retention(
                warehouse, RetentionSettings(), stopping, sweep=mode == "sink"
            )
            if sweeper is not None:
                tasks.append(sweeper)
        if mode == "migrate":
            return 0
        # With a server the API may also run on its own (mode "insights"); in embedded mode it
        # must run here, since no other process can open the chdb directory.
        serve_api = mode == "insights" or insights.enabled
        if serve_api:
            server = _api_server(warehouse, insights)
            tasks.append(asyncio.create_task(server.serve(), name="insights-api"))
            log.info("insights API listening", extra={"host": insights.host, "port": insights.port})
        if mode == "sink":
            kafka, topics = KafkaSettings(), TopicSettings()
            ensure_topics(kafka, [topics.analyses, topics.dead_letter("sink")])
            registry = registry_from_settings(SchemaRegistrySettings())
            writer = SinkWriter(warehouse, SchemaResolver(registry))
            stage: BatchStage[AnalysisPayload] = BatchStage(
                name="sink",
                input_topic=topics.analyses,
                decode=decode_analysis,
                process_batch=writer.process_batch,
            )
            runner = StageRunner(
                stage,
                kafka=kafka,
                runner=SinkRunnerSettings(),
                dead_letter_topic=topics.dead_letter("sink"),
                install_signal_handlers=False,
                consumer_overrides=dict(SINK_CONSUMER_OVERRIDES),
            )
            tasks.append(asyncio.create_task(runner.run(), name="sink-runner"))
            # Per-call status (call_events): its own consumer group, so it never slows the batches.
            event_topics = EventTopics(
                topics.recordings, topics.transcripts, topics.call_events, topics.dead_letter_prefix
            )
            ensure_topics(kafka, event_topics.all(DEAD_LETTER_STAGES))
            events = CallEventsConsumer(warehouse, kafka, event_topics, SinkRunnerSettings())
            tasks.append(asyncio.create_task(events.run(), name="sink-events"))
        # When one part ends (crash or stop), stop the other so the process exits as a whole.
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        stop()
        await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            if task.exception() is not None:
                log.error("sink part failed", exc_info=task.exception(), extra={"part": task.get_name()})
                return 1
        return 0
    finally:
        if swept_store is not None:
            await swept_store.aclose()
        warehouse.close()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    mode = args[0] if args else "sink"
    if mode not in ("sink", "insights", "migrate"):
        print("usage: python -m callpipe_sink [sink|insights|migrate]", file=sys.stderr)
        return 2
    configure_logging("sink")
    return asyncio.run(run(mode))


if __name__ == "__main__":
    raise SystemExit(main())
