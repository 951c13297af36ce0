"""``callpipe bench reprocess-live``: live calls' latency while a backfill drips into the same topic.

A real broker (KAFKA_BOOTSTRAP_SERVERS, or a LocalKafka started for the run) and the real analyzer
service wiring (``analyzer_stage`` under ``serve_stage``, offline engine, its own runner defaults)
on fresh topics. The warehouse (chdb, temp dir) holds ``--stored`` calls written by the real sink
writer. Then, for ``--seconds`` each:

1. **live only**: live ``TranscriptReady`` events are published at ``--live-rate`` calls/s;
2. **live + reprocess** at each ``--drip`` rate: the real ``Reprocessor`` publishes stored calls
   (transcripts rebuilt from ``utterances``) through the real ``KafkaSender`` into the same
   transcripts topic, at that drip rate, while the live calls keep coming.

Latency of a live call = the moment its ``CallAnalyzed`` is read from the analyses topic minus
the moment it was published. Printed per phase: live calls done, p50 / p95 / max latency, and the
backfill calls/s the analyzer got through. The drip rate is the operator's knob: below the
analyzer's spare capacity the live latency stays where it was; above it, live calls queue behind
the backfill (same partitions, first in first out), which the last phase shows on purpose.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from callpipe_bench.ingest_bench import percentile

__all__ = ["main"]


class _AnalysesReader:
    """Reads the analyses topic in a thread and notes when each call's analysis arrived."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        from confluent_kafka import Consumer

        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"bench-live-{uuid.uuid4().hex[:8]}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
            }
        )
        self._consumer.subscribe([topic])
        self.arrived: dict[str, float] = {}
        # Every backfill analysis read (a call re-analysed twice counts twice).
        self.backfill = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="analyses-reader", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            msg = self._consumer.poll(0.2)
            if msg is None or msg.error():
                continue
            key = msg.key()
            if key is not None:
                call_id = key.decode()
                self.arrived.setdefault(call_id, time.monotonic())
                if not call_id.startswith("live-"):
                    self.backfill += 1

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._consumer.close()


async def _run(args: argparse.Namespace, bootstrap: str) -> int:
    import clickhouse_connect

    from callpipe.avro import AvroSerde, LocalSchemaRegistry
    from callpipe.kafka import EventProducer, ensure_topics
    from callpipe.models import CallAnalyzed, TranscriptReady
    from callpipe.runner import StageSettings, serve_stage
    from callpipe.settings import KafkaSettings, RecordingStoreSettings, SchemaRegistrySettings, TopicSettings
    from callpipe_analyzer.__main__ import analyzer_stage
    from callpipe_analyzer.settings import AnalyzerSettings, runner_settings_for
    from callpipe_sink.avro_batch import SchemaResolver, decode_analysis
    from callpipe_sink.lifecycle.reprocess import Reprocessor, ReprocessRequest
    from callpipe_sink.lifecycle.reprocess_sender import KafkaSender
    from callpipe_sink.warehouse import Warehouse, apply_migrations
    from callpipe_sink.writer import SinkWriter
    from callpipe_tools.examples import example_transcript
    from callpipe_tools.synthetic.analyses import synthetic_analyses

    run_id = uuid.uuid4().hex[:8]
    topics = TopicSettings(
        recordings=f"bench.{run_id}.recordings",
        transcripts=f"bench.{run_id}.transcripts",
        analyses=f"bench.{run_id}.analyses",
        call_events=f"bench.{run_id}.call-events",
        alerts=f"bench.{run_id}.alerts",
        dead_letter_prefix=f"bench.{run_id}.dlq",
    )
    kafka = KafkaSettings(bootstrap_servers=bootstrap)
    ensure_topics(
        kafka, [topics.transcripts, topics.analyses, topics.dead_letter("analyzer")], args.partitions
    )
    registry = LocalSchemaRegistry.from_directory()
    transcripts = AvroSerde(TranscriptReady, registry, f"{topics.transcripts}-value")
    analyses_serde = AvroSerde(CallAnalyzed, registry, f"{topics.analyses}-value")

    end = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as tmp:
        client = clickhouse_connect.get_client(interface="chdb", path=str(Path(tmp) / "chdb"))
        wh = Warehouse(client, "bench", embedded=True)
        apply_migrations(wh)
        writer = SinkWriter(wh, SchemaResolver(registry))
        events = list(synthetic_analyses(args.stored, end=end, seed=7))
        writer.write([decode_analysis(analyses_serde.serialize_dict(e)) for e in events])
        print(f"stored {args.stored} calls; broker {bootstrap}; {args.partitions} partitions")

        settings = AnalyzerSettings(engine="offline")
        runner_cls = runner_settings_for(settings.engine)
        stage_settings = StageSettings(kafka, topics, runner_cls(), SchemaRegistrySettings())
        stopping = asyncio.Event()
        service = asyncio.create_task(
            serve_stage(
                analyzer_stage(settings, RecordingStoreSettings(url=f"file://{tmp}/store")),
                settings=stage_settings,
                install_signal_handlers=False,
                stopping=stopping,
            )
        )
        reader = _AnalysesReader(bootstrap, topics.analyses)
        producer = EventProducer(kafka, stage="bench-live")
        template = example_transcript()
        sent: dict[str, float] = {}

        async def live(seconds: float, phase: str) -> list[str]:
            ids: list[str] = []
            started = time.monotonic()
            n = 0
            while time.monotonic() - started < seconds:
                call_id = f"live-{phase}-{n}"
                event = template.model_copy(update={"call_id": call_id, "recording_id": call_id})
                sent[call_id] = time.monotonic()
                await producer.send(topics.transcripts, call_id, transcripts.serialize(event))
                ids.append(call_id)
                n += 1
                await asyncio.sleep(max(0.0, started + n / args.live_rate - time.monotonic()))
            return ids

        async def settle(ids: list[str], limit_s: float) -> None:
            deadline = time.monotonic() + limit_s
            # Polls the reader thread's dict: an asyncio.Event would need a thread hop per message.
            while time.monotonic() < deadline and not all(i in reader.arrived for i in ids):  # noqa: ASYNC110
                await asyncio.sleep(0.2)

        def report(phase: str, ids: list[str], backfill: int, seconds: float) -> None:
            lat = [reader.arrived[i] - sent[i] for i in ids if i in reader.arrived]
            missing = len(ids) - len(lat)
            if not lat:
                print(f"{phase:<28} live 0/{len(ids)} done")
                return
            print(
                f"{phase:<28} live {len(lat)}/{len(ids)} done; latency p50 {statistics.median(lat):5.2f} s"
                f"  p95 {percentile(sorted(lat), 95):5.2f} s  max {max(lat):5.2f} s"
                f"{f'  ({missing} not done within the wait)' if missing else ''};"
                f"  backfill analysed {backfill / seconds:5.2f} calls/s"
            )

        try:
            # Warm up (model load, group join) with a few calls whose latency is not counted.
            await settle(await live(3.0, "warmup"), 120.0)
            ids = await live(args.seconds, "baseline")
            await settle(ids, 60.0)
            report("live only", ids, 0, args.seconds)
            sender = KafkaSender(producer, registry, topics)
            for drip in args.drip:
                request = ReprocessRequest(
                    end - timedelta(days=31), end + timedelta(hours=1), "analyze", rate_per_s=drip
                )
                before = reader.backfill
                backfill = asyncio.create_task(Reprocessor(wh).run(request, sender))
                ids = await live(args.seconds, f"drip{drip}")
                done_backfill = reader.backfill - before
                backfill.cancel()
                await asyncio.gather(backfill, return_exceptions=True)
                await settle(ids, 60.0)
                report(f"live + reprocess at {drip:g}/s", ids, done_backfill, args.seconds)
                # Let the analyzer drain the rest of this backfill before the next phase.
                await settle([k for k in sent if k.startswith("live-")], 5.0)
                drained = time.monotonic() + 120.0
                last = -1
                while time.monotonic() < drained:
                    now = reader.backfill
                    if now == last:
                        break
                    last = now
                    await asyncio.sleep(3.0)
        finally:
            stopping.set()
            await asyncio.gather(service, return_exceptions=True)
            reader.close()
            producer.close()
            wh.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    from callpipe_tools.local.kafka import given_or_local_broker

    p = argparse.ArgumentParser(prog="callpipe bench reprocess-live")
    p.add_argument("--stored", type=int, default=2_000, help="stored calls the backfill can re-analyse")
    p.add_argument("--live-rate", type=float, default=1.0, help="live calls per second")
    p.add_argument("--seconds", type=float, default=40.0, help="length of each phase")
    p.add_argument("--drip", type=float, nargs="+", default=[1.0, 20.0], help="backfill rates to try")
    p.add_argument("--partitions", type=int, default=1)
    args = p.parse_args(argv)
    with given_or_local_broker(os.environ.get("KAFKA_BOOTSTRAP_SERVERS")) as bootstrap:
        return asyncio.run(_run(args, bootstrap))
