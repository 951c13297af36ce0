"""CLICKHOUSE_CLUSTER: the migrations rewritten for a sharded, replicated cluster.

chdb is one node without ZooKeeper, remote_servers or macros, so it cannot create Replicated or
Distributed tables; it can parse them: every rewritten statement goes through the engine's own
parser (formatQuery). The shape is asserted on every migration file, so a migration another
engineer adds is checked here without a hand-written cluster copy.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from callpipe.errors import InvalidInputError
from callpipe_sink.settings import WarehouseSettings
from callpipe_sink.warehouse import apply_migrations, load_migrations
from callpipe_sink.warehouse.cluster import LOCAL_SUFFIX, ClusterDDL
from callpipe_sink.warehouse.migrations import Migration, cluster_statements

CLUSTER = "callpipe_cluster"
DB = "{db:Identifier}"
_TABLE = re.compile(r"^CREATE TABLE IF NOT EXISTS \{db:Identifier\}\.(\w+)", re.I)
_MERGE_TREE = re.compile(r"ENGINE\s*=\s*(\w*MergeTree)\b", re.I)


def _single_node_tables() -> dict[str, str]:
    """Table name -> its single-node CREATE statement, over every migration file."""
    tables: dict[str, str] = {}
    for migration in load_migrations():
        for statement in migration.statements():
            if match := _TABLE.match(statement):
                tables[match.group(1)] = statement
    return tables


def _cluster_form() -> list[str]:
    rewritten = cluster_statements(load_migrations(), CLUSTER, "callpipe")
    return [statement for version in sorted(rewritten) for statement in rewritten[version]]


def _find(statements: list[str], prefix: str) -> str:
    # A later migration may drop and recreate an object (0005 recreates calls_from_analyses_mv):
    # the last form is the one in force.
    found = [s for s in statements if s.startswith(prefix)]
    assert found, prefix
    return found[-1]


def test_every_statement_runs_on_the_cluster() -> None:
    for statement in _cluster_form():
        head = statement.split("(", 1)[0] if statement.startswith("CREATE TABLE") else statement[:200]
        assert f"ON CLUSTER {CLUSTER}" in head, head


def test_merge_tree_tables_become_replicated_locals_behind_distributed_tables() -> None:
    statements = _cluster_form()
    merge_tree = {n: s for n, s in _single_node_tables().items() if _MERGE_TREE.search(s)}
    assert {"calls", "utterances", "calls_hourly"} <= set(merge_tree)
    for name, single in merge_tree.items():
        local = _find(statements, f"CREATE TABLE IF NOT EXISTS {DB}.{name}{LOCAL_SUFFIX} ")
        family = _MERGE_TREE.search(single)
        assert family is not None
        engine = re.search(r"ENGINE = (Replicated\w+)\('([^']+)', '([^']+)'", local)
        assert engine is not None, local
        assert engine.group(1) == f"Replicated{family.group(1)}"
        assert "{shard}" in engine.group(2) and engine.group(3) == "{replica}"
        # The version column of ReplacingMergeTree(analyzed_at) survives as the third argument.
        if "ReplacingMergeTree(analyzed_at)" in single:
            assert "'{replica}', analyzed_at)" in local
        assert "non_replicated_deduplication_window" not in local
        distributed = _find(statements, f"CREATE TABLE IF NOT EXISTS {DB}.{name} ")
        has_call_id = re.search(r"^\s*call_id\s", single, re.M) is not None
        expected = f"Distributed('{CLUSTER}', 'callpipe', '{name}{LOCAL_SUFFIX}'"
        expected += ", cityHash64(call_id))" if has_call_id else ")"
        assert expected in distributed, distributed
        assert f"AS {DB}.{name}{LOCAL_SUFFIX}" in distributed
    # calls and utterances are sharded by call: a call's versions meet on one shard.
    assert "cityHash64(call_id)" in _find(statements, f"CREATE TABLE IF NOT EXISTS {DB}.calls ")


def test_the_avro_landing_table_is_split_by_call_and_lookups_stay_per_node() -> None:
    statements = _cluster_form()
    local = _find(statements, f"CREATE TABLE IF NOT EXISTS {DB}.analyses_in{LOCAL_SUFFIX} ")
    assert "ENGINE = Null" in local
    assert "cityHash64(call_id)" in _find(statements, f"CREATE TABLE IF NOT EXISTS {DB}.analyses_in ")
    versions = _find(statements, f"CREATE TABLE IF NOT EXISTS {DB}.call_versions ")
    assert "EmbeddedRocksDB" in versions and "Distributed" not in versions


def test_materialized_views_read_and_write_local_tables_only() -> None:
    statements = _cluster_form()
    split = {n for n, s in _single_node_tables().items() if _MERGE_TREE.search(s) or "ENGINE = Null" in s}
    views = [s for s in statements if s.startswith("CREATE MATERIALIZED VIEW")]
    assert len(views) >= 8
    for view in views:
        for ref in re.findall(r"(?:\bTO|FROM|JOIN)\s+\{db:Identifier\}\.(\w+)", view):
            assert ref not in split, f"{view[:80]} reads or writes the Distributed table {ref}"
    calls_mv = _find(statements, f"CREATE MATERIALIZED VIEW IF NOT EXISTS {DB}.calls_from_analyses_mv ")
    assert f"TO {DB}.calls{LOCAL_SUFFIX} " in calls_mv and f"FROM {DB}.analyses_in{LOCAL_SUFFIX} " in calls_mv
    rollup_mv = _find(statements, f"CREATE MATERIALIZED VIEW IF NOT EXISTS {DB}.calls_hourly_mv ")
    assert (
        f"TO {DB}.calls_hourly{LOCAL_SUFFIX} " in rollup_mv
        and f"FROM {DB}.calls{LOCAL_SUFFIX}\n" in rollup_mv
    )


def test_the_cluster_ddl_parses_in_clickhouse() -> None:
    chdb_session = pytest.importorskip("chdb.session")
    session = chdb_session.Session()
    try:
        for statement in _cluster_form():
            sql = statement.replace(DB, "callpipe").replace("$q$", "")
            formatted = str(session.query(f"SELECT formatQuery($q${sql}$q$)", "TSVRaw"))
            assert "ON CLUSTER" in formatted, formatted[:200]
    finally:
        session.close()


def test_migrations_added_later_are_rewritten_without_a_cluster_copy() -> None:
    ddl = ClusterDDL(cluster=CLUSTER, database="callpipe")
    for migration in load_migrations():
        ddl.statements(migration.name, migration.statements())
    later = Migration(
        5,
        "churn_risk",
        f"ALTER TABLE {DB}.calls ADD COLUMN IF NOT EXISTS churn_risk LowCardinality(String) DEFAULT '';\n"
        f"ALTER TABLE {DB}.utterances MODIFY TTL toDateTime(started_at) + INTERVAL 400 DAY;\n"
        f"CREATE TABLE IF NOT EXISTS {DB}.call_events (call_id String, at DateTime64(3, 'UTC'), "
        "kind LowCardinality(String)) ENGINE = MergeTree ORDER BY (call_id, at) "
        "TTL toDateTime(at) + INTERVAL 90 DAY;\n"
        f"CREATE MATERIALIZED VIEW IF NOT EXISTS {DB}.call_events_mv TO {DB}.call_events AS "
        f"SELECT call_id, analyzed_at AS at, 'analyzed' AS kind FROM {DB}.calls;\n"
        f"DROP TABLE IF EXISTS {DB}.call_events",
    )
    out = ddl.statements("0005_churn_risk", later.statements())
    add_column = [s for s in out if "ADD COLUMN" in s]
    # A column reaches the local table and the Distributed table that mirrors it.
    assert [s.split(" ON CLUSTER")[0] for s in add_column] == [
        f"ALTER TABLE {DB}.calls{LOCAL_SUFFIX}",
        f"ALTER TABLE {DB}.calls",
    ]
    ttl = [s for s in out if "MODIFY TTL" in s]
    assert len(ttl) == 1 and ttl[0].startswith(f"ALTER TABLE {DB}.utterances{LOCAL_SUFFIX} ON CLUSTER")
    events = _find(out, f"CREATE TABLE IF NOT EXISTS {DB}.call_events{LOCAL_SUFFIX} ")
    assert "ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')" in events
    assert "TTL toDateTime(at) + INTERVAL 90 DAY" in events
    assert "cityHash64(call_id)" in _find(out, f"CREATE TABLE IF NOT EXISTS {DB}.call_events ")
    view = _find(out, f"CREATE MATERIALIZED VIEW IF NOT EXISTS {DB}.call_events_mv ")
    assert f"TO {DB}.call_events{LOCAL_SUFFIX} " in view and f"FROM {DB}.calls{LOCAL_SUFFIX}" in view
    drops = [s for s in out if s.startswith("DROP")]
    assert len(drops) == 2 and all("ON CLUSTER" in s for s in drops)


@pytest.mark.parametrize(
    "statement",
    [
        f"INSERT INTO {DB}.calls_hourly SELECT * FROM {DB}.calls",
        f"CREATE MATERIALIZED VIEW IF NOT EXISTS {DB}.inner_mv ENGINE = Memory AS SELECT 1 AS x",
        f"CREATE TABLE IF NOT EXISTS {DB}.r (x UInt8) ENGINE = ReplicatedMergeTree ORDER BY x",
        f"RENAME TABLE {DB}.calls TO {DB}.calls_old",
    ],
)
def test_a_statement_without_a_cluster_form_fails_loudly_with_the_migration_name(statement: str) -> None:
    ddl = ClusterDDL(cluster=CLUSTER, database="callpipe")
    with pytest.raises(InvalidInputError, match="0009_odd"):
        ddl.statements("0009_odd", [statement])


class _RecordingWarehouse:
    def __init__(self, cluster: str | None) -> None:
        self.cluster = cluster
        self.database = "callpipe"
        self.commands: list[str] = []

    def command(self, sql: str, parameters: Mapping[str, Any] | None = None) -> None:
        self.commands.append(sql)

    def rows(self, sql: str, parameters: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        return []


def test_apply_migrations_runs_the_cluster_form_only_when_a_cluster_is_set() -> None:
    clustered = _RecordingWarehouse(CLUSTER)
    apply_migrations(clustered)  # type: ignore[arg-type]
    ddl = [c for c in clustered.commands if not c.startswith("INSERT")]
    assert ddl[0] == f"CREATE DATABASE IF NOT EXISTS {DB} ON CLUSTER {CLUSTER}"
    assert "ReplicatedReplacingMergeTree" in ddl[1] and "schema_migrations ON CLUSTER" in ddl[1]
    assert all("ON CLUSTER" in c for c in ddl)
    assert any("Distributed(" in c for c in ddl)
    single = _RecordingWarehouse(None)
    apply_migrations(single)  # type: ignore[arg-type]
    assert not any("ON CLUSTER" in c or "Replicated" in c or "Distributed" in c for c in single.commands)
    expected = [s for m in load_migrations() for s in m.statements()]
    assert [c for c in single.commands[2:] if not c.startswith("INSERT")] == expected


def test_an_untransformable_migration_stops_before_any_statement_runs(tmp_path: Path) -> None:
    (tmp_path / "0001_ok.sql").write_text(
        f"CREATE TABLE IF NOT EXISTS {DB}.a (x UInt8) ENGINE = MergeTree ORDER BY x"
    )
    (tmp_path / "0002_odd.sql").write_text(f"OPTIMIZE TABLE {DB}.a FINAL")
    warehouse = _RecordingWarehouse(CLUSTER)
    with pytest.raises(InvalidInputError, match="0002_odd"):
        apply_migrations(warehouse, load_migrations(tmp_path))  # type: ignore[arg-type]
    assert warehouse.commands == []


def test_cluster_setting_is_an_identifier_and_needs_a_server() -> None:
    ok = WarehouseSettings(url="http://clickhouse:8123", cluster="callpipe")
    assert ok.cluster == "callpipe"
    assert WarehouseSettings().cluster is None
    with pytest.raises(ValidationError, match="CLICKHOUSE_URL"):
        WarehouseSettings(cluster="callpipe")
    with pytest.raises(ValidationError, match="plain identifier"):
        WarehouseSettings(url="http://clickhouse:8123", cluster="a'; DROP")
