"""The ClickHouse HTTP front for chdb (clickhouse_http.py) behaves like a server to the sink.

The sink in server mode (``open_warehouse(WarehouseSettings(url=…))``, clickhouse-connect over
HTTP) migrates, writes batches and answers the insights queries exactly as on embedded chdb;
server errors arrive with their real codes so ``translate_error`` classifies them; a killed
front is "ClickHouse unreachable", and a restarted one serves the data written before.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from clickhouse_connect.driver.exceptions import DatabaseError

from callpipe.avro import AvroSerde, LocalSchemaRegistry
from callpipe.errors import DependencyUnavailableError, InvalidInputError
from callpipe_sink.avro_batch import SchemaResolver, decode_analysis
from callpipe_sink.insights.queries import CallFilters, InsightsQueries
from callpipe_sink.settings import WarehouseSettings
from callpipe_sink.warehouse import (
    SchemaMissingError,
    Warehouse,
    apply_migrations,
    load_migrations,
    open_warehouse,
)
from callpipe_sink.writer import INSERT_SETTINGS, SinkWriter
from callpipe_tools.synthetic.analyses import synthetic_analyses
from tests.integration.sink.sink_it_support import SEED_END, ClickHouseFront


@pytest.fixture
def front(tmp_path: Path) -> Iterator[ClickHouseFront]:
    with ClickHouseFront(tmp_path / "chdb", tmp_path / "front.log") as running:
        yield running


def _server(front: ClickHouseFront, database: str) -> Warehouse:
    return open_warehouse(WarehouseSettings(url=front.url, database=database, query_timeout_s=60))


_SAME_ON_BOTH = [
    "SELECT count(), uniqExact(call_id) FROM {db:Identifier}.calls",
    "SELECT count() FROM {db:Identifier}.calls FINAL",
    "SELECT count() FROM {db:Identifier}.utterances",
    "SELECT * EXCEPT inserted_at FROM {db:Identifier}.calls FINAL ORDER BY call_id",
    "SELECT call_id, analyzed_at, idx, role, text FROM {db:Identifier}.utterances FINAL "
    "ORDER BY call_id, idx",
    "SELECT hour, queue, intent, countMerge(calls) FROM {db:Identifier}.calls_hourly "
    "GROUP BY hour, queue, intent ORDER BY hour, queue, intent",
    "SELECT topic, countMerge(calls) FROM {db:Identifier}.topics_hourly GROUP BY topic ORDER BY topic",
    "SELECT competitor, sumMerge(mentions) FROM {db:Identifier}.competitors_hourly "
    "GROUP BY competitor ORDER BY competitor",
]


def test_sink_through_the_front_matches_embedded_chdb(
    front: ClickHouseFront, warehouse: Warehouse, registry: LocalSchemaRegistry, serde: AvroSerde[Any]
) -> None:
    server = _server(front, warehouse.database)  # same database name: identical query text
    try:
        # Every migration file applies through the HTTP front, in order.
        assert apply_migrations(server) == [m.version for m in load_migrations()]
        assert apply_migrations(server) == []  # checksums read back through the front
        events = list(synthetic_analyses(150, end=SEED_END, days=3, seed=51))
        payloads = [decode_analysis(serde.serialize_dict(e)) for e in events]
        for wh in (server, warehouse):
            writer = SinkWriter(wh, SchemaResolver(registry))
            writer.write(payloads + payloads[:10])  # a call twice in one batch: two rounds
            writer.write(payloads[:40])  # a redelivered batch: nothing changes
        for sql in _SAME_ON_BOTH:
            assert server.rows(sql) == warehouse.rows(sql), sql
        assert server.rows(_SAME_ON_BOTH[0]) == [(150, 150)]

        since, until = SEED_END - timedelta(days=4), SEED_END + timedelta(hours=1)
        on_server, embedded = InsightsQueries(server), InsightsQueries(warehouse)
        assert on_server.summary(since, until, None, 5) == embedded.summary(since, until, None, 5)
        filters = CallFilters(since=since, until=until)
        total, rows = on_server.calls(filters, 20, 0)
        assert (total, rows) == embedded.calls(filters, 20, 0)
        assert total == 150 and len(rows) == 20
        first = rows[0]["call_id"]
        assert on_server.call(first) == embedded.call(first)
    finally:
        server.close()


def test_errors_carry_server_codes_and_a_restart_keeps_the_data(
    front: ClickHouseFront, registry: LocalSchemaRegistry, serde: AvroSerde[Any]
) -> None:
    server = _server(front, "front_errors")
    try:
        apply_migrations(server)
        # A missing table pauses the sink (the migrations are re-applied) instead of dead-lettering.
        with pytest.raises(SchemaMissingError) as unknown:
            server.rows("SELECT * FROM {db:Identifier}.no_such_table")
        assert isinstance(unknown.value.__cause__, DatabaseError)
        assert unknown.value.__cause__.code == 60  # UNKNOWN_TABLE, from X-ClickHouse-Exception-Code

        with pytest.raises(InvalidInputError, match="code"):
            server.insert_avro("analyses_in", b"Obj\x01 this is not an Avro container", INSERT_SETTINGS)
        bad = next(synthetic_analyses(1, end=SEED_END, seed=52, id_prefix="BAD"))
        bad["analysis"]["satisfaction_score"] = 42  # the ingest view's contract check refuses it
        with pytest.raises(InvalidInputError, match="satisfaction_score"):
            SinkWriter(server, SchemaResolver(registry)).write([decode_analysis(serde.serialize_dict(bad))])

        events = list(synthetic_analyses(30, end=SEED_END, days=1, seed=53))
        SinkWriter(server, SchemaResolver(registry)).write(
            [decode_analysis(serde.serialize_dict(e)) for e in events]
        )
        front.kill()
        with pytest.raises(DependencyUnavailableError, match="unreachable"):
            server.rows("SELECT count() FROM {db:Identifier}.calls")
        front.start()
        # The same client reconnects; the directory written before the kill is served again.
        assert server.rows("SELECT count() FROM {db:Identifier}.calls FINAL") == [(30,)]
        assert server.rows("SELECT countMerge(calls) FROM {db:Identifier}.calls_hourly") == [(30,)]
    finally:
        server.close()
