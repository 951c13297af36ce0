"""Idempotency ledger: which recordings were already published, kept in the recording store.

A marker ``_ledger/<namespace>/<id>.json`` is written *after* the broker acknowledged the event.
Because the store is shared by every ingest instance (a directory on a shared volume, or a
bucket), a Twilio retry that lands on another instance, or a re-run of a bulk import, finds the
marker and publishes nothing. Inside one process, a per-id lock serialises concurrent duplicates
(Twilio can retry while the first request is still waiting for the broker).

What is left is a narrow window: two instances receiving the same callback at the same instant,
or a crash between the ack and the marker. Both publish a second event with the same Kafka key
and the same ``recording_id``; downstream stages are idempotent on ``recording_id`` (the sink
upserts by it), so a duplicate costs work, never a double-counted call. A lost event is never
traded for that: the marker is never written before the ack.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from typing import Any
from weakref import WeakValueDictionary

from callpipe.store import RecordingNotFoundError, RecordingStore

__all__ = ["Ledger", "LedgerEntry"]


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """What was published for one idempotency id."""

    call_id: str
    recording_id: str
    audio_uri: str
    topic: str
    partition: int
    offset: int
    published_at: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Ledger:
    """Published-markers in the recording store, with per-id locks for in-process duplicates."""

    def __init__(self, store: RecordingStore, prefix: str = "_ledger") -> None:
        self._store = store
        self._prefix = prefix
        self._locks: WeakValueDictionary[str, asyncio.Lock] = WeakValueDictionary()

    def _key(self, namespace: str, ident: str) -> str:
        return f"{self._prefix}/{namespace}/{ident}.json"

    @asynccontextmanager
    async def hold(self, namespace: str, ident: str) -> AsyncIterator[None]:
        """Serialise work on one id inside this process (check → publish → mark)."""
        key = self._key(namespace, ident)
        lock = self._locks.get(key)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[key] = lock
        async with lock:
            yield

    async def get(self, namespace: str, ident: str) -> LedgerEntry | None:
        """The entry for ``ident``, or None when nothing was published for it yet."""
        key = self._key(namespace, ident)
        try:
            raw = await self._store.get(self._store.uri_for(key))
        except RecordingNotFoundError:
            return None
        data = json.loads(raw)
        return LedgerEntry(**{f: data[f] for f in LedgerEntry.__dataclass_fields__})

    async def put(self, namespace: str, ident: str, entry: LedgerEntry) -> None:
        await self._store.put(
            self._key(namespace, ident),
            json.dumps(entry.to_json(), sort_keys=True).encode(),
            content_type="application/json",
        )
