"""Reprocess stored calls: re-publish them at the stage to run again, at a drip rate, resumable.

- ``from_stage="analyze"``: the stored (redacted) transcript is rebuilt from ``utterances`` of the
  call's current analysis and published as ``TranscriptReady``; the analyzer analyses it again
  with today's ``analysis.yaml`` and model, and the sink replaces the stored row (its
  ``analyzed_at`` is newer: ``ReplacingMergeTree(analyzed_at)`` and the version tables of 0003).
  The rollups are recomputed for the hours touched (0008, ``rollup_correction.py``), never
  double-counted. Word timings are not stored, so a re-analysed transcript carries none; nor
  are a mono call's talk-over spans (``TranscriptReady.overlaps``), so its re-analysed
  ``overlap_s`` counts only overlapping utterances (``--from transcribe`` finds the spans again).
- ``from_stage="transcribe"``: ``RecordingReady`` pointing at the archived ``audio_uri`` (the
  PCI-redacted copy when one exists, see ``redacted_audio_key``), with the channel map read back
  from the stored utterances (channel-mapped turns name their channel and role).

Drip rate, not a second topic: the stages read one topic each with a bounded in-flight window,
and a Kafka consumer has no priority between topics, so a "low-priority" reprocess topic would
still take the same workers as soon as it has messages. A rate limit bounds the extra load to N
calls/s that capacity planning can add to the live rate (docs/capacity.md figures per stage).

Resumable: calls are walked in (started_at, call_id) order and a checkpoint file records the
last published call after each acknowledged page; a rerun with the same selection continues after
it. A call published twice (crash between ack and checkpoint) is harmless: the second analysis
simply replaces the first.
"""

# S608: the SQL below is assembled from constants of this module and column names it chose; every
# value (dates, queue, agent, intent, call ids) is bound as a parameter.
# ruff: noqa: S608
from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from callpipe.errors import InvalidInputError
from callpipe.models import CallMetadata, RecordingReady, TranscriptReady
from callpipe.models.common import ChannelRole
from callpipe.models.transcript import Utterance
from callpipe_sink.warehouse import Warehouse

__all__ = [
    "DEFAULT_DRIP_PER_S",
    "Checkpoint",
    "ReprocessReport",
    "ReprocessRequest",
    "Reprocessor",
    "Sender",
]

Stage = Literal["transcribe", "analyze"]
PAGE = 500
# The backfill shares the stages' topics with live calls (first in, first out per partition), so
# its rate must stay below the analyzers' spare capacity or live calls queue behind it: one
# offline analyzer instance does about 2.5 five-minute calls/s on 2 cores (`callpipe bench
# analyzer`); `callpipe bench reprocess-live` shows live latency flat below capacity and growing
# without bound above it. Raise it for a fleet with room to spare.
DEFAULT_DRIP_PER_S = 1.0


class Sender(Protocol):
    """Publishes one serialized event (``callpipe.kafka.EventProducer.send`` is one)."""

    def __call__(
        self, stage: Stage, call_id: str, event: RecordingReady | TranscriptReady, /
    ) -> Awaitable[Any]: ...


@dataclass(frozen=True)
class ReprocessRequest:
    since: datetime
    until: datetime
    from_stage: Stage
    queue: str | None = None
    agent_id: str | None = None
    intent: str | None = None
    call_ids: tuple[str, ...] = ()
    rate_per_s: float = DEFAULT_DRIP_PER_S
    max_calls: int | None = None

    def __post_init__(self) -> None:
        if self.from_stage not in ("transcribe", "analyze"):
            raise InvalidInputError("from_stage must be transcribe or analyze")
        if self.until <= self.since:
            raise InvalidInputError("until must be after since")
        if self.rate_per_s <= 0:
            raise InvalidInputError("rate must be positive (calls/s)")
        if self.max_calls is not None and self.max_calls < 1:
            raise InvalidInputError(f"max_calls must be at least 1 when given, got {self.max_calls}")

    def fingerprint(self) -> str:
        """Identifies the selection, so a checkpoint is only resumed by the same selection."""
        body = asdict(self)
        body.pop("rate_per_s")
        return hashlib.sha256(json.dumps(body, default=str, sort_keys=True).encode()).hexdigest()[:16]


@dataclass
class Checkpoint:
    """Last published call of a selection (a JSON file); absent means start from the beginning."""

    path: Path | None

    def load(self, fingerprint: str) -> tuple[datetime, str, int] | None:
        if self.path is None or not self.path.exists():
            return None
        data = json.loads(self.path.read_text(encoding="utf-8"))
        if data.get("fingerprint") != fingerprint:
            raise InvalidInputError(
                f"checkpoint {self.path} belongs to another selection: remove it or pass another --checkpoint"
            )
        return datetime.fromisoformat(data["started_at"]), str(data["call_id"]), int(data["published"])

    def save(self, fingerprint: str, started_at: datetime, call_id: str, published: int) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        body = {
            "fingerprint": fingerprint,
            "started_at": started_at.isoformat(),
            "call_id": call_id,
            "published": published,
        }
        tmp.write_text(json.dumps(body), encoding="utf-8")
        tmp.replace(self.path)  # atomic: a crash leaves the old or the new checkpoint, never half


@dataclass
class ReprocessReport:
    from_stage: str
    selected: int
    published: int = 0
    resumed_after: int = 0
    seconds: float = 0.0
    dry_run: bool = False
    rate_per_s: float = 0.0
    errors: list[str] = field(default_factory=list)


Progress = Callable[[int, int], None]

_CALL_COLUMNS = (
    "call_id, recording_id, source, status, language, audio_uri, audio_duration_s, stt_engine, "
    "stt_model, flags, from_number, to_number, direction, agent_id, queue, consent, attributes, "
    "started_at, started_at_known, received_at, analyzed_at"
)


class Reprocessor:
    def __init__(self, warehouse: Warehouse) -> None:
        self._wh = warehouse

    def _where(self, request: ReprocessRequest) -> tuple[str, dict[str, Any]]:
        clauses = [
            "started_at >= {since:DateTime64(3, 'UTC')}",
            "started_at < {until:DateTime64(3, 'UTC')}",
        ]
        params: dict[str, Any] = {"since": request.since, "until": request.until}
        selectors = (("queue", request.queue), ("agent_id", request.agent_id), ("intent", request.intent))
        for column, value in selectors:
            if value is not None:
                clauses.append(f"{column} = {{{column}:String}}")
                params[column] = value
        if request.call_ids:
            clauses.append("call_id IN {ids:Array(String)}")
            params["ids"] = list(request.call_ids)
        return " AND ".join(clauses), params

    def count(self, request: ReprocessRequest) -> int:
        where, params = self._where(request)
        rows = self._wh.rows(f"SELECT count() FROM {{db:Identifier}}.calls FINAL WHERE {where}", params)
        total = int(rows[0][0])
        return min(total, request.max_calls) if request.max_calls is not None else total

    def page(self, request: ReprocessRequest, after: tuple[datetime, str] | None) -> list[dict[str, Any]]:
        where, params = self._where(request)
        if after is not None:
            where += " AND (started_at, call_id) > ({a_at:DateTime64(3, 'UTC')}, {a_id:String})"
            params |= {"a_at": after[0], "a_id": after[1]}
        return self._wh.dicts(
            f"SELECT {_CALL_COLUMNS} FROM {{db:Identifier}}.calls FINAL WHERE {where} "
            f"ORDER BY started_at, call_id LIMIT {PAGE}",
            params,
        )

    def note_counted_versions(self, calls: list[dict[str, Any]]) -> None:
        """Calls stored before migration 0008 have no ``rollup_versions`` row, so their
        re-analysis would not be seen as a replacement: record the version the rollups counted."""
        self._wh.command(
            "INSERT INTO {db:Identifier}.rollup_versions (call_id, analyzed_at, hour) "
            "SELECT call_id, analyzed_at, toStartOfHour(started_at) FROM {db:Identifier}.calls FINAL "
            "WHERE call_id IN {ids:Array(String)} "
            "AND call_id NOT IN (SELECT call_id FROM {db:Identifier}.rollup_versions "
            "WHERE call_id IN {ids:Array(String)})",
            {"ids": [c["call_id"] for c in calls]},
        )

    def utterances(self, calls: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
        """Each call's utterances of its current analysis (older analyses' rows are kept apart)."""
        if not calls:
            return {}
        rows = self._wh.dicts(
            "SELECT call_id, analyzed_at, idx, role, speaker, channel, start_s, end_s, text "
            "FROM {db:Identifier}.utterances FINAL WHERE call_id IN {ids:Array(String)} "
            "ORDER BY call_id, idx",
            {"ids": [c["call_id"] for c in calls]},
        )
        current = {c["call_id"]: c["analyzed_at"] for c in calls}
        out: dict[str, list[dict[str, Any]]] = {c["call_id"]: [] for c in calls}
        for row in rows:
            if row["analyzed_at"] == current[row["call_id"]]:
                out[row["call_id"]].append(row)
        return out

    async def run(
        self,
        request: ReprocessRequest,
        send: Sender,
        *,
        checkpoint: Checkpoint | None = None,
        dry_run: bool = False,
        progress: Progress | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> ReprocessReport:
        started = clock()
        checkpoint = checkpoint or Checkpoint(None)
        fingerprint = request.fingerprint()
        resume = checkpoint.load(fingerprint)
        total = await asyncio.to_thread(self.count, request)
        report = ReprocessReport(request.from_stage, total, dry_run=dry_run, rate_per_s=request.rate_per_s)
        if dry_run:
            return report
        after: tuple[datetime, str] | None = None
        done = 0
        if resume is not None:
            after, done = (resume[0], resume[1]), resume[2]
            report.resumed_after = done
        interval = 1.0 / request.rate_per_s
        next_at = clock()
        while request.max_calls is None or done < request.max_calls:
            calls = await asyncio.to_thread(self.page, request, after)
            if request.max_calls is not None:
                calls = calls[: request.max_calls - done]
            if not calls:
                break
            await asyncio.to_thread(self.note_counted_versions, calls)
            turns = await asyncio.to_thread(self.utterances, calls)
            pending: list[asyncio.Future[Any]] = []
            for call in calls:
                # The drip: never faster than rate_per_s, whatever the broker could take.
                wait = next_at - clock()
                if wait > 0:
                    await sleep(wait)
                next_at = max(next_at, clock() - interval) + interval
                event = _event(request.from_stage, call, turns.get(call["call_id"], []))
                # Started now, acknowledged below: a bare coroutine would publish nothing until the
                # gather, turning the drip into one burst per page.
                pending.append(asyncio.ensure_future(send(request.from_stage, call["call_id"], event)))
            await asyncio.gather(*pending)  # every record of the page acknowledged
            done += len(calls)
            report.published += len(calls)
            last = calls[-1]
            after = (last["started_at"], last["call_id"])
            await asyncio.to_thread(checkpoint.save, fingerprint, after[0], after[1], done)
            if progress is not None:
                progress(done, total)
        report.seconds = clock() - started
        return report


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _metadata(call: dict[str, Any]) -> CallMetadata:
    return CallMetadata(
        from_number=call["from_number"] or None,
        to_number=call["to_number"] or None,
        direction=call["direction"] or "unknown",
        agent_id=call["agent_id"] or None,
        queue=call["queue"] or None,
        started_at=_utc(call["started_at"]) if call["started_at_known"] else None,
        consent=call["consent"] or "unknown",
        attributes=dict(call["attributes"]),
    )


def _event(
    stage: Stage, call: dict[str, Any], current: list[dict[str, Any]]
) -> RecordingReady | TranscriptReady:
    channels = sorted({(int(t["channel"]), str(t["role"])) for t in current if t["channel"] is not None})
    if stage == "transcribe":
        parties = dict(channels).items()
        roles = [ChannelRole(channel=c, role=r) for c, r in parties if r in ("caller", "agent")]
        return RecordingReady(
            call_id=call["call_id"],
            recording_id=call["recording_id"],
            source=call["source"],
            audio_uri=call["audio_uri"],
            duration_s=float(call["audio_duration_s"]) or None,
            channel_count=max((c for c, _ in channels), default=0) + 1,
            channel_roles=roles,
            metadata=_metadata(call),
            received_at=_utc(call["received_at"]),
        )
    return TranscriptReady(
        call_id=call["call_id"],
        recording_id=call["recording_id"],
        source=call["source"],
        status="no_speech" if call["status"] == "no_speech" or not current else "ok",
        audio_uri=call["audio_uri"],
        audio_duration_s=float(call["audio_duration_s"]),
        channel_count=max((c for c, _ in channels), default=0) + 1,
        language=call["language"] or None,
        engine=call["stt_engine"],
        model=call["stt_model"],
        utterances=[
            Utterance(
                role=t["role"],
                speaker=t["speaker"],
                channel=t["channel"],
                start_s=float(t["start_s"]),
                end_s=float(t["end_s"]),
                text=t["text"],
            )
            for t in current
        ],
        roles_low_confidence="roles_low_confidence" in call["flags"],
        metadata=_metadata(call),
        received_at=_utc(call["received_at"]),
    )
