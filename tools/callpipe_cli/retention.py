"""``callpipe retention sweep|ttl|lifecycle``: apply the ``RETENTION_*`` settings by hand.

    callpipe retention sweep [--dry-run]       delete audio past its retention from the recording
                                               store (RECORDING_STORE_*), printing each object
    callpipe retention ttl [--dry-run]         set the ClickHouse TTLs (CLICKHOUSE_*), printing the DDL
    callpipe retention lifecycle [--apply]     print the S3 lifecycle rule for the store's prefix
                                               (as JSON, for a bucket policy you manage), or put it

The running sink does all of this by itself (TTLs at start, a sweep every
RETENTION_SWEEP_INTERVAL_S); these commands are for a dry run, a cron job instead of the sink's
sweep, or a bucket managed elsewhere. With embedded chdb, ``ttl`` needs the sink stopped (one
process per data directory).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import UTC, datetime

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="callpipe retention", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="action", required=True)
    sweep = sub.add_parser("sweep", help="delete expired audio from the recording store")
    sweep.add_argument("--dry-run", action="store_true", help="print what would be deleted, delete nothing")
    ttl = sub.add_parser("ttl", help="set the ClickHouse TTLs from RETENTION_*")
    ttl.add_argument("--dry-run", action="store_true", help="print the DDL that would run, run nothing")
    lifecycle = sub.add_parser(
        "lifecycle", help="the S3 lifecycle rule expiring RETENTION_AUDIO_DAYS-old audio"
    )
    lifecycle.add_argument("--apply", action="store_true", help="put it on the bucket (keeps other rules)")
    return p


async def _sweep(dry_run: bool) -> int:
    from callpipe.settings import RecordingStoreSettings, RetentionSettings
    from callpipe.store import AudioRetention, open_recording_store, sweep_store

    settings = RetentionSettings()
    retention = AudioRetention(settings.audio_days, settings.effective_original_audio_days)
    if not retention.enabled:
        print("audio is kept forever (RETENTION_AUDIO_DAYS and RETENTION_ORIGINAL_AUDIO_DAYS are 0)")
        return 0
    store = open_recording_store(RecordingStoreSettings())
    try:
        report = await sweep_store(store, retention, datetime.now(UTC), dry_run=dry_run)
    finally:
        await store.aclose()
    verb = "would delete" if dry_run else "deleted"
    for item in report.expired:
        print(f"{verb}\t{item.kind}\t{item.modified_at.isoformat(timespec='seconds')}\t{item.key}")
    counts = report.counts()
    print(
        f"{verb} {len(report.expired)} of {report.scanned} objects in {store!r} "
        f"(audio older than {retention.audio_days or '∞'} days: {counts['audio']}, "
        f"originals older than {retention.original_days or '∞'} days: {counts['original']})"
    )
    return 0


def _ttl(dry_run: bool) -> int:
    from callpipe.settings import RetentionSettings
    from callpipe_sink.retention import apply_ttls
    from callpipe_sink.settings import WarehouseSettings
    from callpipe_sink.warehouse import apply_migrations, open_warehouse

    warehouse = open_warehouse(WarehouseSettings())
    try:
        apply_migrations(warehouse)
        statements = apply_ttls(warehouse, RetentionSettings(), dry_run=dry_run)
    finally:
        warehouse.close()
    for statement in statements:
        print(statement.replace("{db:Identifier}", warehouse.database) + ";")
    print(f"-- {len(statements)} statement(s) {'would run' if dry_run else 'ran'}; TTLs otherwise current")
    return 0


async def _lifecycle(apply: bool) -> int:
    from callpipe.errors import InvalidInputError
    from callpipe.settings import RecordingStoreSettings, RetentionSettings
    from callpipe.store._s3 import lifecycle_rules, parse_s3_url

    store_settings, settings = RecordingStoreSettings(), RetentionSettings()
    if not store_settings.url.startswith("s3://"):
        raise InvalidInputError("RECORDING_STORE_URL is not s3://: the local store is swept instead")
    _, prefix = parse_s3_url(store_settings.url)
    if not apply:
        print(json.dumps({"Rules": lifecycle_rules([], prefix, settings.audio_days)}, indent=2))
        return 0
    from callpipe.store._s3 import S3RecordingStore

    store = S3RecordingStore(store_settings)
    try:
        rules = await store.apply_lifecycle(settings.audio_days)
    finally:
        await store.aclose()
    print(json.dumps({"Rules": rules}, indent=2, default=str))
    return 0


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if args.action == "sweep":
        return asyncio.run(_sweep(args.dry_run))
    if args.action == "ttl":
        return _ttl(args.dry_run)
    return asyncio.run(_lifecycle(args.apply))
