"""Erase calls everywhere callpipe keeps them: ClickHouse rows, the recording store, the search
index, with an audit record and a tombstone that keeps a redelivered call from coming back.

What is removed, per call:

- ClickHouse: ``calls``, ``utterances`` (this is also the search index: /search reads the token
  bloom-filter index of ``utterances``, rebuilt with the rewritten parts), ``call_events`` and the
  version tables ``call_versions`` / ``utterance_versions`` / ``rollup_versions``. ``ALTER … DELETE`` with
  ``mutations_sync = 2`` rewrites the parts before returning, so the bytes are gone from disk,
  not only hidden (a lightweight DELETE would only mask them until a merge). ``alerts`` name a
  few sample calls each (``sample_call_ids``): the alert stays (it is about a queue or an agent),
  the erased ids are filtered out of its list (counted under ``alerts`` in ``rows_deleted``).
- Recording store: the archived audio (``audio_uri``), its card-number-redacted copy or kept
  original, and ingest's idempotency markers that name the call (``_ledger/content/<sha>.json``
  for uploads, ``_ledger/call/<call_id>.json`` for an upload with its own call id,
  ``_ledger/twilio/<RecordingSid>.json``).
- A call that never reached ``calls`` (dead-lettered, still in flight, consent declined) is found
  through ``call_events``: its ``received`` event keeps the audio's URI and the SHA-256 of the
  parties' numbers (migration 0012), so ``--phone`` finds it and its audio goes too. A call with
  no such event yet (ingest published it, the events consumer has not read it) is found by
  ``--call-id`` through ingest's ``_ledger/call/<call_id>.json`` marker, which names its audio.
- Kafka keeps its own copies (the stage topics and the dead-letter topics) until the topics'
  retention (``KAFKA_TOPIC_RETENTION_HOURS``); callpipe cannot delete single records there. The
  tombstone keeps those copies from being stored again.
- The hourly rollups hold counts per hour, intent, topic, competitor, queue and agent, never a
  call id, number or text; still, an erased call should not stay counted: the hours of the
  erased calls are marked (``rollup_dirty_hours``, migration 0008) and recomputed from
  ``calls FINAL`` by :class:`RollupCorrector`, as after a re-analysis.

Order matters: the tombstone is written first, so a redelivery racing the erasure is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from callpipe.errors import InvalidInputError
from callpipe.store import RecordingNotFoundError, RecordingStore, original_uri_of, redacted_key_of
from callpipe_sink.lifecycle.event_rows import phone_hash
from callpipe_sink.lifecycle.rollup_correction import ROLLUP_WRITE_LOCK, RollupCorrector
from callpipe_sink.warehouse import Warehouse

__all__ = [
    "CALL_ID_LIST_COLUMNS",
    "PER_CALL_TABLES",
    "Eraser",
    "ErasureReport",
    "ErasureRequest",
    "Tombstones",
    "call_hash",
]

# Every ClickHouse table holding rows of one call (the rollups hold none: see the docstring).
# call_quality (0009) holds category evidence: snippets of what was said.
PER_CALL_TABLES = (
    "calls",
    "utterances",
    "call_events",
    "call_versions",
    "utterance_versions",
    "rollup_versions",
    "call_quality",
)
# Tables that name calls in a list column among other calls' ids (an alert's sample calls): the
# row stays, the erased ids are filtered out of the list.
CALL_ID_LIST_COLUMNS = {"alerts": "sample_call_ids"}
_CONTENT_KEY = re.compile(r"(?:^|/)audio/[0-9a-f]{2}/([0-9a-f]{64})\.[A-Za-z0-9]+$")
_LEDGER = "_ledger"
# Where a call's audio is: (call_id, audio_uri, recording_id, source), from calls, call_events or
# ingest's call marker.
_Source = tuple[str, str, str, str]


def call_hash(call_id: str) -> str:
    return hashlib.sha256(call_id.encode()).hexdigest()


class Tombstones:
    """The erased calls' hashes, held in memory and reloaded only when ``erased_calls`` changed.

    Checked for every sink batch: a query with the batch's 20,000 hashes as an IN list cost
    ~190 ms with no tombstone and ~1.7 s with 10,000 (measured, chdb, 2 cores), a cost per batch
    the sink cannot afford; the change probe (count and latest erased_at) is one small query.
    An erasure run by another process (the CLI) is seen at the next batch.
    """

    def __init__(self, warehouse: Warehouse) -> None:
        self._wh = warehouse
        self._version: tuple[int, object] | None = None
        self._hashes: frozenset[str] = frozenset()

    def erased_among(self, call_ids: Sequence[str]) -> set[str]:
        probe = self._wh.rows("SELECT count(), max(erased_at) FROM {db:Identifier}.erased_calls")[0]
        version = (int(probe[0]), probe[1])
        if version != self._version:
            rows = self._wh.rows("SELECT call_hash FROM {db:Identifier}.erased_calls")
            self._hashes = frozenset(str(h) for (h,) in rows)
            self._version = version
        if not self._hashes:
            return set()
        return {c for c in set(call_ids) if call_hash(c) in self._hashes}


@dataclass(frozen=True)
class ErasureRequest:
    requested_by: str
    call_ids: tuple[str, ...] = ()
    phone: str | None = None
    # A guard against a selector that matches far more than one person's calls (the call
    # center's own number is the to_number of every inbound call): refuse instead of erasing.
    max_calls: int = 10_000

    def __post_init__(self) -> None:
        if bool(self.call_ids) == bool(self.phone):
            raise InvalidInputError("give call ids or a phone number (one of them)")
        if not self.requested_by.strip():
            raise InvalidInputError("an erasure needs a requester (who asked) for the audit trail")
        if self.max_calls < 1:
            raise InvalidInputError(f"max_calls must be at least 1, got {self.max_calls}")

    @property
    def selector(self) -> str:
        return "phone" if self.phone else "call_id"


@dataclass
class ErasureReport:
    erasure_id: str
    selector: str
    calls: int
    rows_deleted: dict[str, int] = field(default_factory=dict)
    objects_deleted: int = 0
    objects_outside_store: int = 0
    seconds: float = 0.0
    dry_run: bool = False


class Eraser:
    def __init__(self, warehouse: Warehouse, store: RecordingStore | None) -> None:
        self._wh = warehouse
        self._store = store

    def resolve(self, request: ErasureRequest) -> list[str]:
        """The call ids the request covers (by phone: every call from or to that number, stored
        or not: a dead-lettered or consent-declined call is found by its events' party hashes)."""
        if request.phone is None:
            return sorted(set(request.call_ids))
        rows = self._wh.rows(
            "SELECT call_id FROM {db:Identifier}.calls "
            "WHERE from_number = {p:String} OR to_number = {p:String} "
            "UNION DISTINCT "
            "SELECT call_id FROM {db:Identifier}.call_events WHERE has(party_hashes, {h:String})",
            {"p": request.phone, "h": phone_hash(request.phone)},
        )
        return sorted({str(r[0]) for r in rows})

    async def erase(self, request: ErasureRequest, *, dry_run: bool = False) -> ErasureReport:
        """Erase what ``request`` covers (or only count it with ``dry_run``); blocking ClickHouse
        work runs in a worker thread so an API process keeps answering meanwhile."""
        started = time.perf_counter()
        call_ids, report, sources = await asyncio.to_thread(self._plan, request, dry_run)
        # A call id no stored row names the audio of (in flight, or its received event not read
        # yet): ingest's call marker does, when the upload gave its own call id.
        located = {c for c, uri, _, _ in sources if uri}
        sources += await self._sources_from_call_markers([c for c in call_ids if c not in located])
        objects, outside = self._objects(call_ids, sources)
        report.objects_outside_store = len(outside)
        if call_ids and not dry_run:
            hashes = [call_hash(c) for c in call_ids]
            await asyncio.to_thread(self._tombstone, hashes)
            # Objects before rows: the rows name the objects, so a failed delete can be retried.
            if self._store is not None:
                for uri in objects:
                    await self._store.delete(uri)
            await asyncio.to_thread(self._delete_rows, call_ids)
        report.objects_deleted = len(objects)
        report.seconds = time.perf_counter() - started
        if not dry_run:
            await asyncio.to_thread(self._audit, request, report, [call_hash(c) for c in call_ids])
        return report

    def _plan(self, request: ErasureRequest, dry_run: bool) -> tuple[list[str], ErasureReport, list[_Source]]:
        call_ids = self.resolve(request)
        if len(call_ids) > request.max_calls:
            raise InvalidInputError(
                f"the request matches {len(call_ids)} calls, more than max_calls={request.max_calls}: "
                "check the selector (is it your own number?) or raise max_calls"
            )
        report = ErasureReport(str(uuid.uuid4()), request.selector, len(call_ids), dry_run=dry_run)
        if not call_ids:
            return call_ids, report, []
        for table in PER_CALL_TABLES:
            found = self._wh.rows(
                f"SELECT count() FROM {{db:Identifier}}.{table} WHERE call_id IN {{ids:Array(String)}}",  # noqa: S608 - table names are constants
                {"ids": call_ids},
            )
            report.rows_deleted[table] = int(found[0][0])
        for table, column in CALL_ID_LIST_COLUMNS.items():
            named = self._wh.rows(
                f"SELECT count() FROM {{db:Identifier}}.{table} "  # noqa: S608 - table and column are constants
                f"WHERE hasAny({column}, {{ids:Array(String)}})",
                {"ids": call_ids},
            )
            report.rows_deleted[table] = int(named[0][0])
        return call_ids, report, self._sources(call_ids)

    def _tombstone(self, hashes: list[str]) -> None:
        self._wh.command(
            "INSERT INTO {db:Identifier}.erased_calls (call_hash, erased_at) "
            "SELECT arrayJoin({h:Array(String)}), now64(3)",
            {"h": hashes},
        )

    def _delete_rows(self, call_ids: list[str]) -> None:
        # With the sink's batches held off: the recompute below must not interleave with theirs.
        with ROLLUP_WRITE_LOCK:
            self._delete_rows_and_rollups(call_ids)

    def _delete_rows_and_rollups(self, call_ids: list[str]) -> None:
        # Marked first: the rows name the hours, and a crash after this leaves the marks for the
        # writer's next correction.
        self._wh.command(
            "INSERT INTO {db:Identifier}.rollup_dirty_hours (hour, marked_at) "
            "SELECT DISTINCT toStartOfHour(started_at), now64(3) FROM {db:Identifier}.calls "
            "WHERE call_id IN {ids:Array(String)}",
            {"ids": call_ids},
        )
        for table in PER_CALL_TABLES:
            self._wh.command(
                f"ALTER TABLE {{db:Identifier}}.{table} DELETE WHERE call_id IN {{ids:Array(String)}} "
                "SETTINGS mutations_sync = 2",
                {"ids": call_ids},
            )
        for table, column in CALL_ID_LIST_COLUMNS.items():
            self._wh.command(
                f"ALTER TABLE {{db:Identifier}}.{table} UPDATE {column} = "
                f"arrayFilter(x -> NOT has({{ids:Array(String)}}, x), {column}) "
                f"WHERE hasAny({column}, {{ids:Array(String)}}) SETTINGS mutations_sync = 2",
                {"ids": call_ids},
            )
        # The hourly rollups hold counts, not call data, but an erased call should not be counted
        # there either: its hours are recomputed from what remains.
        RollupCorrector(self._wh).correct()

    def _sources(self, call_ids: list[str]) -> list[_Source]:
        """(call_id, audio_uri, recording_id, source) of these calls, from the stored calls and
        from the received events of calls that never reached ``calls``."""
        if self._store is None:
            return []
        rows = self._wh.rows(
            "SELECT call_id, audio_uri, recording_id, source FROM {db:Identifier}.calls "
            "WHERE call_id IN {ids:Array(String)} "
            "UNION DISTINCT "
            "SELECT call_id, audio_uri, recording_id, source FROM {db:Identifier}.call_events "
            "WHERE call_id IN {ids:Array(String)} AND (audio_uri != '' OR recording_id != '')",
            {"ids": call_ids},
        )
        return [(str(c), str(u or ""), str(r or ""), str(s or "")) for c, u, r, s in rows]

    async def _sources_from_call_markers(self, call_ids: list[str]) -> list[_Source]:
        if self._store is None:
            return []
        found: list[_Source] = []
        for call_id in call_ids:
            marker = self._call_marker(call_id)
            if marker is None:
                continue
            try:
                entry = json.loads(await self._store.get(marker))
            except (RecordingNotFoundError, ValueError):
                continue  # no marker (generated call id, Twilio), or not one ingest wrote
            if isinstance(entry, dict):
                found.append(
                    (call_id, str(entry.get("audio_uri") or ""), str(entry.get("recording_id") or ""), "")
                )
        return found

    def _call_marker(self, call_id: str) -> str | None:
        if self._store is None:
            return None
        try:
            return self._store.uri_for(f"{_LEDGER}/call/{call_id}.json")
        except InvalidInputError:  # a call id that is no valid key has no marker
            return None

    def _objects(self, call_ids: list[str], sources: list[_Source]) -> tuple[list[str], list[str]]:
        """Audio URIs and ingest's markers naming these calls: (in this store, elsewhere)."""
        if self._store is None:
            return [], []
        uris: set[str] = set()
        outside: set[str] = set()
        # Only objects of this store are callpipe's to delete; audio elsewhere (Twilio's copy at
        # an https URL, another bucket) is counted in the report as outside, for the operator.
        base = self._store.uri_for("x")[:-1]
        twilio = {c for c, _, _, source in sources if source == "twilio"}
        for _call_id, audio_uri, recording_id, source in sources:
            if audio_uri and not audio_uri.startswith(base):
                outside.add(audio_uri)
            elif audio_uri:
                # The stored call names the redacted copy (card numbers bleeped) or the original;
                # a call that failed after the analyzer may have left a copy beside the original
                # it was received with. Both go (deleting what is already gone is no error).
                original = original_uri_of(audio_uri) or audio_uri
                uris.update({audio_uri, original, redacted_key_of(original)})
                match = _CONTENT_KEY.search(urlsplit(original).path)
                if match:
                    uris.add(self._store.uri_for(f"{_LEDGER}/content/{match.group(1)}.json"))
            if source == "twilio" and recording_id:
                with contextlib.suppress(InvalidInputError):  # an id that is no valid key has no marker
                    uris.add(self._store.uri_for(f"{_LEDGER}/twilio/{recording_id}.json"))
        for call_id in call_ids:
            # An upload that gave its own call id left a marker under it (Twilio calls never do).
            if call_id not in twilio and (marker := self._call_marker(call_id)) is not None:
                uris.add(marker)
        return sorted(uris), sorted(outside)

    def _audit(self, request: ErasureRequest, report: ErasureReport, hashes: list[str]) -> None:
        self._wh.command(
            "INSERT INTO {db:Identifier}.erasures (erasure_id, requested_at, requested_by, selector, "
            "calls, call_hashes, rows_deleted, objects_deleted, seconds) VALUES ({id:UUID}, now64(3), "
            "{by:String}, {sel:String}, {n:UInt32}, {h:Array(String)}, "
            "mapFromArrays({rk:Array(String)}, {rv:Array(UInt64)}), {obj:UInt32}, {s:Float32})",
            {
                "id": report.erasure_id,
                "by": request.requested_by,
                "sel": report.selector,
                "n": report.calls,
                "h": hashes,
                "rk": list(report.rows_deleted),
                "rv": list(report.rows_deleted.values()),
                "obj": report.objects_deleted,
                "s": report.seconds,
            },
        )
