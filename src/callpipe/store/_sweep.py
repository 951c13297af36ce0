"""Retention sweep of the recording store: delete audio older than its retention.

Two kinds of object, two clocks (``RETENTION_AUDIO_DAYS``, ``RETENTION_ORIGINAL_AUDIO_DAYS``):

* an **original** is an object whose PCI-redacted copy (``<key>.pci-redacted.wav``, see
  ``_redacted.py``) sits beside it: the analyzer kept the unredacted recording because
  ``ANALYZER_REDACT_AUDIO_KEEP_ORIGINAL`` is on. It holds card numbers, so it normally has the
  shorter retention, and never a longer one than the archived audio;
* everything else is **audio**: the archived recording (the redacted copy, or the only copy
  when audio redaction is off or has not run yet) and ingest's idempotency markers
  (``_ledger/…``), which name the call and are useless once its audio is gone.

Age is the object's own time in the store (file mtime, S3 LastModified): it is what an S3
lifecycle rule can see too, so both ways of expiring audio agree. For live traffic it is the
call's time within minutes; a backfilled old call keeps its audio for the retention after import.

Stores are walked one directory at a time (``walk``): an original and its copy are siblings, so
a directory's listing is all it takes to tell them apart, and memory stays bounded by the
largest directory (``audio/<2 hex>/`` holds 1/256 of the uploads).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, Protocol

from callpipe.store._base import RecordingStore
from callpipe.store._redacted import REDACTED_SUFFIX

__all__ = [
    "AudioRetention",
    "ExpiredObject",
    "StoredObject",
    "SweepReport",
    "SweepableStore",
    "expired_in_directory",
    "sweep_store",
]

log = logging.getLogger("callpipe.store.retention")

ObjectKind = Literal["audio", "original"]


@dataclass(frozen=True, slots=True)
class StoredObject:
    """One object of a store: its key (as ``put`` took it) and when it was last written (UTC)."""

    key: str
    modified_at: datetime


@dataclass(frozen=True, slots=True)
class ExpiredObject:
    key: str
    kind: ObjectKind
    modified_at: datetime


@dataclass(frozen=True)
class AudioRetention:
    """Days to keep each kind; 0 = forever. ``original_days`` is already bounded by ``audio_days``
    (``RetentionSettings.effective_original_audio_days``)."""

    audio_days: int = 0
    original_days: int = 0

    @property
    def enabled(self) -> bool:
        return self.audio_days > 0 or self.original_days > 0

    def days(self, kind: ObjectKind) -> int:
        return self.original_days if kind == "original" else self.audio_days


class SweepableStore(RecordingStore, Protocol):
    """A recording store that can list itself, directory by directory."""

    def walk(self) -> AsyncIterator[list[StoredObject]]:
        """Every object, as one list per directory (S3: per ``/``-delimited prefix)."""
        ...


def expired_in_directory(
    objects: Sequence[StoredObject], retention: AudioRetention, now: datetime
) -> list[ExpiredObject]:
    """The objects of one directory that are past their retention at ``now``."""
    keys = {o.key for o in objects}
    expired: list[ExpiredObject] = []
    for obj in objects:
        is_copy = obj.key.endswith(REDACTED_SUFFIX)
        kind: ObjectKind = "original" if not is_copy and obj.key + REDACTED_SUFFIX in keys else "audio"
        days = retention.days(kind)
        if days > 0 and obj.modified_at < now - timedelta(days=days):
            expired.append(ExpiredObject(obj.key, kind, obj.modified_at))
    return expired


@dataclass
class SweepReport:
    dry_run: bool
    expired: list[ExpiredObject] = field(default_factory=list)
    deleted: int = 0
    scanned: int = 0

    def counts(self) -> dict[str, int]:
        out = {"audio": 0, "original": 0}
        for item in self.expired:
            out[item.kind] += 1
        return out


async def sweep_store(
    store: SweepableStore, retention: AudioRetention, now: datetime, *, dry_run: bool = False
) -> SweepReport:
    """Delete (or, dry run, only list) every object past its retention; idempotent, so a sweep
    cut short is finished by the next one. A directory's objects are classified before any of
    them is deleted, so an original is still recognised while its copy is deleted beside it."""
    report = SweepReport(dry_run=dry_run)
    if not retention.enabled:
        return report
    async for directory in store.walk():
        report.scanned += len(directory)
        expired = expired_in_directory(directory, retention, now)
        report.expired.extend(expired)
        if dry_run:
            continue
        for item in expired:
            await store.delete(store.uri_for(item.key))
            report.deleted += 1
    if report.expired:
        log.info(
            "retention sweep",
            extra={
                "dry_run": dry_run,
                "deleted": report.deleted,
                "scanned": report.scanned,
                **report.counts(),
            },
        )
    return report
