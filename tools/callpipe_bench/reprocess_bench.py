"""``callpipe bench reprocess``: re-analyse N stored calls (default 10,000) with ``--from analyze``.

Seeds chdb (temp dir) through the real sink writer with synthetic analyses, then runs the real
``Reprocessor`` (selection pages from ``calls FINAL``, transcripts rebuilt from ``utterances``)
with a sender that stands in for Kafka + analyzer: each TranscriptReady goes through the real
offline analyzer (``callpipe_analyzer.stage.analyze``) and is serialized as CallAnalyzed; the
results reach the real ``SinkWriter`` in batches (``--batch``), which replaces the stored rows
and recomputes the rollup hours they touched (migration 0008). Prints:

- calls/s of the whole loop (select → rebuild → analyze → write), and of the selection and
  rebuild alone (the part the CLI does; the drip rate caps it in production);
- ``count() FROM calls FINAL`` before and after (must be equal: replaced, not added);
- the rollup total (``countMerge(calls)`` over calls_hourly, agents_hourly) before and after
  (must be equal), and whether every rollup equals a recount from ``calls FINAL`` per intent.

No broker runs here (the drip is a sleep that this bench disables with a high rate); Kafka's part
of a real run is measured by the ingest and runner benches.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

__all__ = ["main"]


def _totals(wh: Any) -> dict[str, int]:
    out = {"calls FINAL": int(wh.rows("SELECT count() FROM {db:Identifier}.calls FINAL")[0][0])}
    for table in ("calls_hourly", "agents_hourly"):
        out[table] = int(wh.rows(f"SELECT countMerge(calls) FROM {{db:Identifier}}.{table}")[0][0])  # noqa: S608 - constant names
    return out


def _rollups_match_final(wh: Any) -> bool:
    rollup = wh.rows(
        "SELECT intent, countMerge(calls) AS n FROM {db:Identifier}.calls_hourly GROUP BY intent HAVING n > 0"
    )
    final = wh.rows("SELECT intent, count() FROM {db:Identifier}.calls FINAL GROUP BY intent")
    return dict(rollup) == dict(final)


async def _run(calls: int, batch: int) -> int:
    import clickhouse_connect

    from callpipe.avro import AvroSerde, LocalSchemaRegistry
    from callpipe.models import CallAnalyzed
    from callpipe_sink.avro_batch import SchemaResolver, decode_analysis
    from callpipe_sink.lifecycle.reprocess import Reprocessor, ReprocessRequest
    from callpipe_sink.warehouse import Warehouse, apply_migrations
    from callpipe_sink.writer import SinkWriter
    from callpipe_tools.synthetic.analyses import synthetic_analyses

    stage = importlib.import_module("callpipe_analyzer.stage")
    wiring = importlib.import_module("callpipe_analyzer.wiring")
    analyzer_settings = importlib.import_module("callpipe_analyzer.settings")
    ports = wiring.build_ports(analyzer_settings.AnalyzerSettings(engine="offline"))

    end = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as tmp:
        client = clickhouse_connect.get_client(interface="chdb", path=str(Path(tmp) / "chdb"))
        wh = Warehouse(client, "bench", embedded=True)
        apply_migrations(wh)
        registry = LocalSchemaRegistry.from_directory()
        serde = AvroSerde(CallAnalyzed, registry, "callpipe.analyses-value")
        writer = SinkWriter(wh, SchemaResolver(registry))
        events = list(synthetic_analyses(calls, end=end, seed=14))
        for i in range(0, calls, 20_000):
            writer.write([decode_analysis(serde.serialize_dict(e)) for e in events[i : i + 20_000]])
        before = _totals(wh)
        print(
            f"seeded {calls} calls; before: {before}; "
            f"rollups = recount from FINAL: {_rollups_match_final(wh)}"
        )

        pending: list[bytes] = []
        timing = {"analyze": 0.0, "write": 0.0, "writes": 0}

        def flush() -> None:
            if pending:
                t = time.perf_counter()
                writer.write([decode_analysis(b) for b in pending])
                timing["write"] += time.perf_counter() - t
                timing["writes"] += 1
                pending.clear()

        async def send(_stage: str, _call_id: str, event: Any) -> None:
            t = time.perf_counter()
            analyzed = await stage.analyze(event, ports)
            pending.append(serde.serialize(analyzed))
            timing["analyze"] += time.perf_counter() - t
            if len(pending) >= batch:
                await asyncio.to_thread(flush)

        request = ReprocessRequest(
            end - timedelta(days=31), end + timedelta(hours=1), "analyze", rate_per_s=1e9
        )
        reprocessor = Reprocessor(wh)
        dry = await reprocessor.run(request, send, dry_run=True)
        print(f"dry run: {dry.selected} calls selected")
        started = time.perf_counter()
        report = await reprocessor.run(request, send)
        flush()
        seconds = time.perf_counter() - started
        after = _totals(wh)
        changed = wh.rows("SELECT count() FROM {db:Identifier}.calls FINAL WHERE analyzer_version != ''")[0][
            0
        ]
        print(
            f"reprocessed {report.published} calls in {seconds:.1f} s: "
            f"{report.published / seconds:.1f} calls/s end to end"
        )
        print(f"  sink writes {timing['write']:.1f} s ({timing['writes']} batches incl. rollup recompute)")
        print(f"after: {after} (analysed rows {changed})")
        match = _rollups_match_final(wh)
        print(
            f"count() FINAL unchanged: {before['calls FINAL'] == after['calls FINAL']}; "
            f"rollup totals unchanged: {before == after}; rollups = recount from FINAL: {match}"
        )
        wh.close()
        return 0 if before == after and match and report.published == calls else 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="callpipe bench reprocess")
    p.add_argument("--calls", type=int, default=10_000, help="stored calls to re-analyse")
    p.add_argument("--batch", type=int, default=5_000, help="analyses per sink batch")
    args = p.parse_args(argv)
    return asyncio.run(_run(args.calls, args.batch))
