"""``callpipe reprocess --since … --until … --from analyze|transcribe``: re-run stored calls.

``--from analyze`` re-publishes the stored transcripts (TranscriptReady) so the analyzer applies
today's analysis.yaml and model; ``--from transcribe`` re-publishes the archived audio
(RecordingReady) for the speech model. The sink replaces each stored row with the newer analysis
and recomputes the hourly rollups it touched. ``--rate`` is a drip (calls/s) so a backfill never
starves live calls; a checkpoint file makes a rerun after a crash continue where it stopped.

Reads ``CLICKHOUSE_*``, ``KAFKA_*``, ``SCHEMA_REGISTRY_*`` and ``TOPIC_*`` from the environment, like
the services. With embedded chdb the sink holds the data directory (one process per directory):
use the running sink's ``POST /admin/reprocess`` (INSIGHTS_ADMIN_TOKEN) instead, or stop it.
A selection it refuses (``--until`` not after ``--since``, ``--rate`` or ``--max-calls`` not
positive, a checkpoint of another selection) exits 2 with the reason.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from callpipe.errors import InvalidInputError
from callpipe_sink.lifecycle.reprocess import DEFAULT_DRIP_PER_S, ReprocessRequest
from callpipe_sink.settings import DEFAULT_REPROCESS_CHECKPOINT_DIR

__all__ = ["main", "progress_line"]

BAR_WIDTH = 30


def _when(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date or date-time: {text!r}") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="callpipe reprocess", description=__doc__.splitlines()[0])
    p.add_argument("--since", type=_when, required=True, help="calls started at or after (ISO, UTC)")
    p.add_argument("--until", type=_when, required=True, help="calls started before (ISO, UTC)")
    p.add_argument("--from", dest="from_stage", choices=("transcribe", "analyze"), required=True)
    p.add_argument("--queue", help="only calls of this queue")
    p.add_argument("--agent", help="only calls of this agent id")
    p.add_argument("--intent", help="only calls stored with this intent")
    p.add_argument("--call-id", action="append", default=[], help="only these calls (repeatable)")
    p.add_argument(
        "--rate",
        type=float,
        default=DEFAULT_DRIP_PER_S,
        help="most calls published per second (drip; keep it below the analyzers' spare capacity)",
    )
    p.add_argument("--max-calls", type=int, help="stop after this many calls")
    p.add_argument(
        "--checkpoint",
        type=Path,
        help=f"resume file (default {DEFAULT_REPROCESS_CHECKPOINT_DIR}/<selection>.json)",
    )
    p.add_argument("--dry-run", action="store_true", help="print how many calls match; publish nothing")
    return p


def progress_line(done: int, total: int, seconds: float) -> str:
    share = done / total if total else 1.0
    filled = round(share * BAR_WIDTH)
    rate = done / seconds if seconds > 0 else 0.0
    left = (total - done) / rate if rate > 0 else 0.0
    return (
        f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done}/{total} "
        f"{share:6.1%} {rate:7.1f} calls/s, ~{left:.0f} s left"
    )


def _request(args: argparse.Namespace) -> ReprocessRequest:
    return ReprocessRequest(
        since=args.since,
        until=args.until,
        from_stage=args.from_stage,
        queue=args.queue,
        agent_id=args.agent,
        intent=args.intent,
        call_ids=tuple(args.call_id),
        rate_per_s=args.rate,
        max_calls=args.max_calls,
    )


async def _reprocess(args: argparse.Namespace, request: ReprocessRequest) -> dict[str, Any]:
    from callpipe.avro import registry_from_settings
    from callpipe.kafka import EventProducer
    from callpipe.settings import KafkaSettings, SchemaRegistrySettings, TopicSettings
    from callpipe_sink.lifecycle.reprocess import Checkpoint, Reprocessor
    from callpipe_sink.lifecycle.reprocess_sender import KafkaSender
    from callpipe_sink.settings import WarehouseSettings
    from callpipe_sink.warehouse import apply_migrations, open_warehouse

    path = args.checkpoint or Path(DEFAULT_REPROCESS_CHECKPOINT_DIR) / f"{request.fingerprint()}.json"
    warehouse = open_warehouse(WarehouseSettings())
    started = time.monotonic()

    def progress(done: int, total: int) -> None:
        print("\r" + progress_line(done, total, time.monotonic() - started), end="", file=sys.stderr)

    try:
        apply_migrations(warehouse)
        reprocessor = Reprocessor(warehouse)
        if args.dry_run:
            report = await reprocessor.run(request, _refuse, dry_run=True)
            return asdict(report)
        producer = EventProducer(KafkaSettings(), stage="reprocess")
        try:
            sender = KafkaSender(producer, registry_from_settings(SchemaRegistrySettings()), TopicSettings())
            report = await reprocessor.run(request, sender, checkpoint=Checkpoint(path), progress=progress)
        finally:
            producer.close()
        print(file=sys.stderr)
        # Finished: the checkpoint is spent, so the same command later starts afresh.
        path.unlink(missing_ok=True)
    finally:
        warehouse.close()
    return asdict(report) | {"checkpoint": str(path)}


async def _refuse(*_: object) -> None:
    raise AssertionError("a dry run publishes nothing")


def main(argv: list[str]) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        report = asyncio.run(_reprocess(args, _request(args)))
    except InvalidInputError as exc:
        parser.error(str(exc))  # exits 2 with the usage and the reason, no traceback
    print(json.dumps(report, indent=2, default=str))
    return 0
