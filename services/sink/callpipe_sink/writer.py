"""Batch writer: decoded analyses → one Arrow insert into ``utterances`` and one into ``calls``.

Idempotence, so that a redelivered or replayed batch never duplicates (and never double-counts
in the rollups fed by materialized views):

1. inside a batch only the newest analysis of a call is kept (``analyzed_at``, later offset wins);
2. analyses already stored with the same or a newer ``analyzed_at`` are skipped, found with one
   primary-key lookup on ``calls`` (ORDER BY call_id) per batch;
3. each insert carries an ``insert_deduplication_token`` derived from its rows, so an identical
   block sent twice (a retry after a lost acknowledgement) is dropped by ClickHouse itself,
   materialized views included;
4. ``calls`` is written last: it is the marker step 2 trusts, so a crash between the two inserts
   re-inserts the utterances (collapsed by their ReplacingMergeTree key) and then the call.

ReplacingMergeTree(analyzed_at) keyed on call_id remains the last line: ``FROM calls FINAL`` has
one row per call whatever happened. Offsets are committed by the runner only after this returns.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from callpipe.errors import InvalidInputError, PermanentError
from callpipe_sink.rows import CallRows, UtteranceRows
from callpipe_sink.warehouse import Warehouse

__all__ = ["BatchResult", "DeadLetter", "SinkWriter", "validate_event"]

log = logging.getLogger(__name__)

# Called with the decoded event and the reason when one analysis of a batch is unusable; the
# rest of the batch is still written. Without one, the writer raises for the whole batch.
DeadLetter = Callable[[dict[str, Any], str], Awaitable[None]]

_UINT32_MAX = 2**32 - 1


@dataclass
class BatchResult:
    received: int = 0
    inserted_calls: int = 0
    inserted_utterances: int = 0
    skipped_duplicates: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0


def validate_event(event: dict[str, Any]) -> None:
    """Checks Avro cannot express (ranges of the pydantic contract, sizes of ClickHouse columns)."""
    call_id = event.get("call_id")
    if not isinstance(call_id, str) or not call_id or len(call_id) > 256:
        raise InvalidInputError(f"call_id {call_id!r} is empty or longer than 256 characters")
    if not isinstance(event.get("analyzed_at"), datetime) or not isinstance(
        event.get("received_at"), datetime
    ):
        raise InvalidInputError(f"call {call_id}: analyzed_at/received_at are not timestamps")
    analysis = event.get("analysis")
    if analysis is not None:
        score = analysis.get("satisfaction_score")
        if not isinstance(score, int) or not 1 <= score <= 10:
            raise InvalidInputError(f"call {call_id}: satisfaction_score {score!r} is outside 1–10")
        for mention in analysis.get("competitor_mentions") or ():
            if not 0 <= mention.get("count", -1) <= _UINT32_MAX:
                raise InvalidInputError(
                    f"call {call_id}: competitor count {mention.get('count')!r} is invalid"
                )
    for utterance in event.get("utterances") or ():
        channel = utterance.get("channel")
        if channel is not None and not 0 <= channel <= 255:
            raise InvalidInputError(f"call {call_id}: utterance channel {channel} is outside 0–255")


def _token(table: str, keys: Sequence[tuple[str, datetime]]) -> str:
    digest = hashlib.sha256(table.encode())
    for call_id, analyzed_at in sorted(keys):
        digest.update(f"\x00{call_id}\x00{analyzed_at.isoformat()}".encode())
    return f"callpipe-{table}-{digest.hexdigest()}"


class SinkWriter:
    """Writes batches of decoded ``CallAnalyzed`` dicts; safe to call again with the same batch."""

    def __init__(self, warehouse: Warehouse, *, dead_letter: DeadLetter | None = None) -> None:
        self._wh = warehouse
        self._dead_letter = dead_letter

    async def process_batch(self, events: list[dict[str, Any]]) -> None:
        """``BatchStage.process_batch``: returns once ClickHouse acknowledged both inserts."""
        result = await self.write(events)
        log.info(
            "batch written",
            extra={
                "received": result.received,
                "calls": result.inserted_calls,
                "utterances": result.inserted_utterances,
                "duplicates": result.skipped_duplicates,
                "rejected": len(result.rejected),
                "seconds": round(result.seconds, 4),
            },
        )

    async def write(self, events: list[dict[str, Any]]) -> BatchResult:
        started = time.perf_counter()
        result = BatchResult(received=len(events))
        latest: dict[str, dict[str, Any]] = {}
        for event in events:
            try:
                validate_event(event)
            except PermanentError as exc:
                await self._reject(event, exc, result)
                continue
            current = latest.get(event["call_id"])
            if current is None or event["analyzed_at"] >= current["analyzed_at"]:
                latest[event["call_id"]] = event
        result.skipped_duplicates = len(events) - len(result.rejected) - len(latest)
        if latest:
            await asyncio.to_thread(self._write_sync, latest, result)
        result.seconds = time.perf_counter() - started
        if result.rejected and self._dead_letter is None:
            call_id, reason = result.rejected[0]
            raise InvalidInputError(f"{len(result.rejected)} analyses unusable, first {call_id}: {reason}")
        return result

    async def _reject(self, event: dict[str, Any], exc: PermanentError, result: BatchResult) -> None:
        result.rejected.append((str(event.get("call_id")), exc.reason))
        if self._dead_letter is not None:
            await self._dead_letter(event, exc.reason)

    def _write_sync(self, latest: dict[str, dict[str, Any]], result: BatchResult) -> None:
        stored = self._stored_versions(list(latest))
        fresh = [e for cid, e in latest.items() if cid not in stored or e["analyzed_at"] > stored[cid]]
        result.skipped_duplicates += len(latest) - len(fresh)
        if not fresh:
            return
        calls, utterances = CallRows(), UtteranceRows()
        for event in fresh:
            calls.add(event)
            utterances.add(event)
        keys = [(e["call_id"], e["analyzed_at"]) for e in fresh]
        settings = {"deduplicate_blocks_in_dependent_materialized_views": 1}
        try:
            calls_table, utterance_table = calls.to_arrow(), utterances.to_arrow()
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
            raise InvalidInputError(f"batch does not fit the warehouse columns: {exc}") from exc
        if len(utterances):
            token = _token("utterances", keys)
            self._wh.insert_arrow(
                "utterances", utterance_table, {**settings, "insert_deduplication_token": token}
            )
        token = _token("calls", keys)
        self._wh.insert_arrow("calls", calls_table, {**settings, "insert_deduplication_token": token})
        result.inserted_calls = len(calls)
        result.inserted_utterances = len(utterances)

    def _stored_versions(self, call_ids: list[str]) -> dict[str, datetime]:
        rows = self._wh.rows(
            "SELECT call_id, max(analyzed_at) FROM {db:Identifier}.calls "
            "WHERE call_id IN {ids:Array(String)} GROUP BY call_id",
            {"ids": call_ids},
        )
        return {str(cid): _as_utc(ts) for cid, ts in rows}


def _as_utc(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    raise InvalidInputError(f"unexpected analyzed_at value from ClickHouse: {value!r}")
