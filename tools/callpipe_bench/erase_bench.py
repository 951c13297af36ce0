"""``callpipe bench erase``: erase N calls of one phone number (default 1,000) among M others.

Seeds chdb (temp dir) through the real sink writer with synthetic analyses (M calls, of which N
get the probed number), puts an audio object per call in a local recording store, then times
``Eraser.erase`` by phone number: resolve, tombstones, object deletes, ALTER DELETE with
mutations_sync = 2 on every per-call table, audit. Prints seconds and calls/s, and checks that
none of the N calls is left and all the others are.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["main"]


async def _run(calls: int, others: int) -> int:
    import clickhouse_connect

    from callpipe.avro import AvroSerde, LocalSchemaRegistry
    from callpipe.models import CallAnalyzed
    from callpipe.store import LocalRecordingStore
    from callpipe_sink.avro_batch import SchemaResolver, decode_analysis
    from callpipe_sink.lifecycle.erasure import Eraser, ErasureRequest
    from callpipe_sink.warehouse import Warehouse, apply_migrations
    from callpipe_sink.writer import SinkWriter
    from callpipe_tools.synthetic.analyses import synthetic_analyses

    phone = "+15550009999"
    with tempfile.TemporaryDirectory() as tmp:
        client = clickhouse_connect.get_client(interface="chdb", path=str(Path(tmp) / "chdb"))
        wh = Warehouse(client, "bench", embedded=True)
        apply_migrations(wh)
        store = LocalRecordingStore(Path(tmp) / "recordings")
        registry = LocalSchemaRegistry.from_directory()
        serde = AvroSerde(CallAnalyzed, registry, "callpipe.analyses-value")
        events = list(synthetic_analyses(calls + others, end=datetime.now(UTC), seed=14))
        for i, event in enumerate(events):
            uri = await store.put(f"audio/bench/{event['call_id']}.wav", b"RIFF" + bytes(64))
            event["audio_uri"] = uri
            if i < calls:
                event["metadata"]["from_number"] = phone
        seeded = time.perf_counter()
        SinkWriter(wh, SchemaResolver(registry)).write(
            [decode_analysis(serde.serialize_dict(e)) for e in events]
        )
        print(f"seeded {calls + others} calls ({calls} from {phone}) in {time.perf_counter() - seeded:.1f} s")
        report = await Eraser(wh, store).erase(ErasureRequest("bench", phone=phone, max_calls=calls))
        left = wh.rows(
            "SELECT count() FROM {db:Identifier}.calls WHERE from_number = {p:String}", {"p": phone}
        )
        kept = wh.rows("SELECT count() FROM {db:Identifier}.calls FINAL")
        files = sum(1 for _ in (Path(tmp) / "recordings").rglob("*.wav"))
        rate = report.calls / report.seconds
        print(f"erased {report.calls} calls by phone in {report.seconds:.2f} s ({rate:.0f} calls/s)")
        print(f"rows deleted: {report.rows_deleted}; objects deleted: {report.objects_deleted}")
        print(f"left from that number: {left[0][0]}; other calls kept: {kept[0][0]} / {others}")
        print(f"audio files left: {files} (the other calls')")
        wh.close()
        ok = left[0][0] == 0 and kept[0][0] == others and files == others and report.calls == calls
        return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="callpipe bench erase")
    p.add_argument("--calls", type=int, default=1000, help="calls of the erased number")
    p.add_argument("--others", type=int, default=20_000, help="calls of other numbers around them")
    args = p.parse_args(argv)
    return asyncio.run(_run(args.calls, args.others))
