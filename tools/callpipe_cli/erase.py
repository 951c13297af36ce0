"""``callpipe erase --call-id ID … | --phone NUMBER --by WHO [--dry-run]``: erase calls everywhere.

Reads the sink's ClickHouse settings (``CLICKHOUSE_*``) and the recording store
(``RECORDING_STORE_*``) from the environment, like the services. With embedded chdb the sink
process holds the data directory (one process per directory): stop the sink first, or use the
admin endpoint ``POST /admin/erase`` of the running sink instead. Prints the report as JSON;
a request it refuses (no requester, ``--max-calls`` below 1 or below the number of calls that
match) exits 2 with the reason.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from dataclasses import asdict
from typing import TYPE_CHECKING

from callpipe.errors import InvalidInputError

if TYPE_CHECKING:
    from callpipe_sink.lifecycle.erasure import ErasureRequest

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="callpipe erase", description=__doc__.splitlines()[0])
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--call-id", action="append", default=[], help="call id (repeatable)")
    which.add_argument("--phone", help="every call from or to this number (as stored, e.g. +15551230001)")
    p.add_argument("--by", required=True, help="who asked (ticket, officer): kept in the audit trail")
    p.add_argument("--max-calls", type=int, default=10_000, help="refuse if more calls match (guard)")
    p.add_argument("--dry-run", action="store_true", help="count what would be erased, change nothing")
    return p


async def _erase(request: ErasureRequest, dry_run: bool) -> dict[str, object]:
    from callpipe.settings import RecordingStoreSettings
    from callpipe.store import open_recording_store
    from callpipe_sink.lifecycle.erasure import Eraser
    from callpipe_sink.settings import WarehouseSettings
    from callpipe_sink.warehouse import apply_migrations, open_warehouse

    warehouse = open_warehouse(WarehouseSettings())
    store = open_recording_store(RecordingStoreSettings())
    try:
        apply_migrations(warehouse)
        report = await Eraser(warehouse, store).erase(request, dry_run=dry_run)
    finally:
        await store.aclose()
        warehouse.close()
    return asdict(report)


def main(argv: list[str]) -> int:
    from callpipe_sink.lifecycle.erasure import ErasureRequest

    parser = _parser()
    args = parser.parse_args(argv)
    try:
        request = ErasureRequest(args.by, tuple(args.call_id), args.phone, args.max_calls)
        report = asyncio.run(_erase(request, args.dry_run))
    except InvalidInputError as exc:
        parser.error(str(exc))  # exits 2 with the usage and the reason, no traceback
    print(json.dumps(report, indent=2))
    return 0
