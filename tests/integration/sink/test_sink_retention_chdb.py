"""Retention TTLs on the real embedded ClickHouse: rows past their TTL go at the TTL merge, rows
within stay, the rollups and the erasure audit trail keep theirs, and the DDL is idempotent.
The cluster form of the DDL is checked by ClickHouse's own parser (formatQuery)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from callpipe.avro import AvroSerde
from callpipe.models import CallAnalyzed
from callpipe.settings import RetentionSettings
from callpipe_sink.avro_batch import decode_analysis
from callpipe_sink.lifecycle import CallEventRow
from callpipe_sink.lifecycle.events_consumer import rows_table
from callpipe_sink.retention import apply_ttls, table_ttls, ttl_statements
from callpipe_sink.retention.ttl import cluster_ddl, current_ttl
from callpipe_sink.warehouse import Warehouse
from callpipe_sink.writer import SinkWriter
from callpipe_tools.examples import example_analysis


def _store_call(writer: SinkWriter, serde: AvroSerde[CallAnalyzed], started_at: datetime) -> str:
    call_id = f"CA-ret-{uuid.uuid4().hex[:10]}"
    writer.write([decode_analysis(serde.serialize(example_analysis(call_id, started_at=started_at)))])
    return call_id


def _ids(wh: Warehouse, table: str) -> set[str]:
    return {str(r[0]) for r in wh.rows(f"SELECT DISTINCT call_id FROM {{db:Identifier}}.{table}")}


def _optimize(wh: Warehouse, *tables: str) -> None:
    for table in tables:
        wh.command(f"OPTIMIZE TABLE {{db:Identifier}}.{table} FINAL")


def test_rows_past_their_ttl_disappear_at_the_ttl_merge_and_the_rest_stays(
    warehouse: Warehouse, writer: SinkWriter, serde: AvroSerde[CallAnalyzed]
) -> None:
    now = datetime.now(UTC)
    old = _store_call(writer, serde, now - timedelta(days=40))  # past both retentions
    middle = _store_call(writer, serde, now - timedelta(days=15))  # transcript past, analysis within
    recent = _store_call(writer, serde, now - timedelta(days=2))  # within both
    events = [CallEventRow(old, "received", "ingest", now - timedelta(days=40))]
    events.append(CallEventRow(recent, "received", "ingest", now - timedelta(days=2)))
    warehouse.insert_arrow("call_events", rows_table(events))
    warehouse.command(
        "INSERT INTO {db:Identifier}.erasures (erasure_id, requested_at, requested_by, selector, calls) "
        "VALUES (generateUUIDv4(), now64(3) - INTERVAL 400 DAY, 'dpo', 'call_id', 1)"
    )
    rollup_calls = "SELECT countMerge(calls) FROM {db:Identifier}.calls_hourly"
    assert int(warehouse.rows(rollup_calls)[0][0]) == 3
    assert _ids(warehouse, "utterances") == {old, middle, recent}

    settings = RetentionSettings(analysis_days=30, transcript_days=10)
    ran = apply_ttls(warehouse, settings)
    assert len(ran) == len(table_ttls(settings))
    assert apply_ttls(warehouse, settings) == []  # idempotent: nothing to change on a restart
    _optimize(warehouse, "calls", "utterances", "call_events", "erasures", "calls_hourly")

    assert _ids(warehouse, "calls") == {middle, recent}
    assert _ids(warehouse, "utterances") == {recent}
    # Status events expire by their own time: the old call's 'received' is gone; its 'analyzed'
    # and 'stored' (written by the view when the sink stored it, i.e. now) stay their own period.
    events_left = {
        (str(c), str(e))
        for c, e in warehouse.rows("SELECT call_id, event FROM {db:Identifier}.call_events FINAL")
    }
    assert (old, "received") not in events_left and (old, "stored") in events_left
    assert (recent, "received") in events_left
    # Kept on purpose: anonymous rollups and the erasure audit trail.
    assert int(warehouse.rows(rollup_calls)[0][0]) == 3
    assert int(warehouse.rows("SELECT count() FROM {db:Identifier}.erasures")[0][0]) == 1
    assert current_ttl(warehouse, "erasures") is None

    # Back to 0 = keep forever: the TTLs are removed, and a call inserted now with an old date stays.
    assert len(apply_ttls(warehouse, RetentionSettings())) == len(table_ttls(settings))
    assert {t: current_ttl(warehouse, t) for t in ("calls", "utterances", "call_events")} == dict.fromkeys(
        ("calls", "utterances", "call_events")
    )
    ancient = _store_call(writer, serde, now - timedelta(days=4000))
    _optimize(warehouse, "calls", "utterances")
    assert ancient in _ids(warehouse, "calls") and ancient in _ids(warehouse, "utterances")


def test_a_changed_setting_replaces_the_ttl(warehouse: Warehouse) -> None:
    apply_ttls(warehouse, RetentionSettings(transcript_days=10))
    assert current_ttl(warehouse, "utterances") == "toDateTime(started_at) + toIntervalDay(10)"
    assert current_ttl(warehouse, "calls") is None
    ran = apply_ttls(warehouse, RetentionSettings(transcript_days=90))
    assert ran == [
        "ALTER TABLE {db:Identifier}.utterances MODIFY TTL toDateTime(started_at) + toIntervalDay(90)"
    ]
    assert current_ttl(warehouse, "utterances") == "toDateTime(started_at) + toIntervalDay(90)"
    dry = apply_ttls(warehouse, RetentionSettings(), dry_run=True)
    assert dry == ["ALTER TABLE {db:Identifier}.utterances REMOVE TTL"]
    assert current_ttl(warehouse, "utterances") is not None  # a dry run changes nothing


def test_the_cluster_ddl_parses_as_clickhouse_sql(warehouse: Warehouse) -> None:
    ddl = cluster_ddl("prod", "callpipe")
    statements = [
        s
        for days in (30, 0)
        for ttl in table_ttls(RetentionSettings(analysis_days=days, transcript_days=days))
        for s in ttl_statements(ttl, ddl)
    ]
    assert len(statements) == 2 * len(table_ttls(RetentionSettings()))
    for statement in statements:
        sql = statement.replace("{db:Identifier}", "callpipe")
        formatted = str(warehouse.rows("SELECT formatQuery({q:String})", {"q": sql})[0][0])
        assert "ON CLUSTER prod" in formatted and "_local" in formatted
