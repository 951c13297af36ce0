"""Batch writer: one ``INSERT … FORMAT Avro`` into ``analyses_in`` per batch and writer schema.

ClickHouse decodes the batch and the materialized views of migration 0003 fan it out into
``calls`` and ``utterances`` (and from ``calls`` into the hourly rollups). Idempotence, so that a
redelivered batch or a replay from offset 0 never duplicates nor double-counts a rollup:

1. a call that occurs twice in a batch is split into successive inserts (rounds) in offset
   order, so each insert holds a call at most once and the check below sees the earlier one;
2. an analysis is written to a table only if it is newer than the version stored for that call
   (``call_versions`` / ``utterance_versions``, key-value tables joined by call_id);
3. each table has its own version table, so a batch that failed after ``calls`` was written but
   before ``utterances`` was completes on retry without writing ``calls`` twice;
4. ``ReplacingMergeTree(analyzed_at)`` keyed on call_id stays the last line: ``FROM calls FINAL``
   has one row per call whatever happened.

Offsets are committed by the runner only after ``process_batch`` returned, i.e. after ClickHouse
acknowledged the insert. Errors are callpipe classes (warehouse adapter): unreachable → the
runner retries forever with consumption paused; a contract violation (``throwIf`` in the views,
unreadable Avro) → permanent, so the runner splits the batch and dead-letters the culprit.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from dataclasses import dataclass

from callpipe_sink.avro_batch import AnalysisPayload, SchemaResolver, container_file
from callpipe_sink.lifecycle.erasure import Tombstones
from callpipe_sink.lifecycle.rollup_correction import ROLLUP_WRITE_LOCK, RollupCorrector
from callpipe_sink.warehouse import SchemaMissingError, Warehouse, apply_migrations
from callpipe_sink.writer_schemas import WriterSchemaUpgrade

__all__ = ["INSERT_SETTINGS", "SINK_CONSUMER_OVERRIDES", "BatchResult", "SinkWriter", "split_rounds"]

log = logging.getLogger(__name__)

INSERT_SETTINGS = {
    # Older writer schemas lack fields added later: they take the column default.
    "input_format_avro_allow_missing_fields": 1,
    "input_format_avro_null_as_default": 1,
    # The views on analyses_in (calls, utterances) and on calls (its version table, the rollups)
    # run in parallel threads instead of one after the other: writer alone, 3 × 20,000 analyses
    # into chdb on 2 cores, 36–38k/s → 48–52k/s at the same CPU per analysis (~27 µs). Safe for
    # the idempotence checks: each view reads only its own version table, which is written
    # downstream of that view, and a partly written batch already completes on retry.
    "parallel_view_processing": 1,
}


# librdkafka tuning for the sink's consumer (passed to the StageRunner). The runner fills the next
# batch while one is written and pauses the partitions only when that one is full too; a resume
# (or an empty queue) then waits on a fetch, which with the defaults lingers up to 500 ms for
# fetch.min.bytes. So fetch eagerly and keep about two batches (2 × 20,000 × ~1 KB) prefetched:
# a batch then fills from memory (the consumer alone takes ~70k messages/s) while memory stays
# bounded at ~64 MiB of queue.
SINK_CONSUMER_OVERRIDES = {
    "fetch.wait.max.ms": 20,
    "queued.min.messages": 40_000,
    "queued.max.messages.kbytes": 65_536,
    "fetch.max.bytes": 52_428_800,
    "max.partition.fetch.bytes": 10_485_760,
}


@dataclass
class BatchResult:
    received: int = 0
    inserts: int = 0
    seconds: float = 0.0


class SinkWriter:
    """``BatchStage.process_batch`` for the sink; safe to call again with the same batch."""

    def __init__(
        self, warehouse: Warehouse, schemas: SchemaResolver, upgrade: WriterSchemaUpgrade | None = None
    ) -> None:
        self._wh = warehouse
        self._schemas = schemas
        self._upgrade = upgrade or WriterSchemaUpgrade()
        self._tombstones = Tombstones(warehouse)
        self._rollups = RollupCorrector(warehouse)

    async def process_batch(self, payloads: list[AnalysisPayload]) -> None:
        result = await asyncio.to_thread(self.write, payloads)
        log.info(
            "batch written",
            extra={
                "received": result.received,
                "inserts": result.inserts,
                "seconds": round(result.seconds, 4),
            },
        )

    def write(self, payloads: list[AnalysisPayload]) -> BatchResult:
        started = time.perf_counter()
        # An erased call redelivered from Kafka (a replay, a late retry) must not come back.
        erased = self._erased([p.call_id for p in payloads])
        if erased:
            log.info("erased calls dropped from the batch", extra={"dropped": len(erased)})
            payloads = [p for p in payloads if p.call_id not in erased]
        rounds = split_rounds(payloads)
        # Resolve every schema first: an unknown id fails the batch before anything is written.
        schemas = {p.schema_id: self._schemas(p.schema_id) for p in payloads}
        inserts = 0
        with ROLLUP_WRITE_LOCK:
            for round_ in rounds:
                by_schema: dict[int, list[bytes]] = defaultdict(list)
                for payload in round_:
                    by_schema[payload.schema_id].append(payload.body)
                for schema_id, bodies in sorted(by_schema.items()):
                    # Another writer schema's nested records do not load as-is (writer_schemas.py).
                    self._insert(container_file(*self._upgrade(schemas[schema_id], bodies)))
                    inserts += 1
            # A re-analysis (callpipe reprocess) replaced stored rows: put their hours' rollups
            # right before the offsets are committed, so a crash here redoes it on redelivery.
            if inserts:
                self._rollups.correct()
        return BatchResult(len(payloads), inserts, time.perf_counter() - started)

    def _erased(self, call_ids: list[str]) -> set[str]:
        try:
            return self._tombstones.erased_among(call_ids)
        except SchemaMissingError:
            # No tombstone table means nothing was ever erased here; re-creating missing tables
            # is _insert's one job, so it is not done a second time on this path.
            return set()

    def _insert(self, container: bytes) -> None:
        try:
            self._wh.insert_avro("analyses_in", container, INSERT_SETTINGS)
        except SchemaMissingError as exc:
            # ClickHouse came back without our tables (a new volume, a dropped database): create
            # them again and retry once. A second miss propagates and pauses like any outage.
            log.warning("warehouse lost its tables; re-applying migrations", extra={"error": exc.reason})
            apply_migrations(self._wh)
            self._wh.insert_avro("analyses_in", container, INSERT_SETTINGS)


def split_rounds(payloads: list[AnalysisPayload]) -> list[list[AnalysisPayload]]:
    """Round k holds the k-th occurrence of each call id, in offset order (nearly always one)."""
    rounds: list[list[AnalysisPayload]] = []
    seen: dict[str, int] = {}
    for payload in payloads:
        k = seen.get(payload.call_id, 0)
        seen[payload.call_id] = k + 1
        if k == len(rounds):
            rounds.append([])
        rounds[k].append(payload)
    return rounds
