"""Versioned SQL migrations (``migrations/NNNN_name.sql``) applied at start, once each.

Every statement is idempotent (``IF NOT EXISTS``) and the applied versions are recorded in
``schema_migrations`` with the file's SHA-256, so a restart applies nothing twice and an edited,
already-applied migration is refused instead of silently diverging.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from callpipe.errors import InvalidInputError
from callpipe_sink.warehouse.client import Warehouse
from callpipe_sink.warehouse.cluster import ClusterDDL

__all__ = ["MIGRATIONS_DIR", "Migration", "apply_migrations", "cluster_statements", "load_migrations"]

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    def statements(self) -> list[str]:
        """Statements in file order; ``{db:Identifier}`` is bound by the warehouse, never spliced."""
        body = "\n".join(line for line in self.sql.splitlines() if not line.lstrip().startswith("--"))
        return [s.strip() for s in body.split(";") if s.strip()]


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    found: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if match is None:
            raise InvalidInputError(f"migration file {path.name} is not named NNNN_name.sql")
        found.append(Migration(int(match.group(1)), match.group(2), path.read_text(encoding="utf-8")))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise InvalidInputError(f"duplicate migration versions in {directory}: {versions}")
    return found


_MIGRATIONS_COLUMNS = (
    "(version UInt32, name String, checksum String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3))"
)
# On a cluster every node is a replica of one schema_migrations (no {shard} in the path), so a
# sink connected to any node sees what another sink applied.
_CLUSTER_MIGRATIONS_ENGINE = (
    "ReplicatedReplacingMergeTree('/clickhouse/tables/{database}/schema_migrations', '{shard}-{replica}')"
)


def cluster_statements(migrations: list[Migration], cluster: str, database: str) -> dict[int, list[str]]:
    """Every migration's statements rewritten for ``cluster`` (see ``cluster.py``).

    All migrations are rewritten, applied ones too, before anything runs: a later statement
    needs to know which tables earlier ones split, and one that cannot be rewritten stops the
    sink at start with the migration's name instead of half-way through.
    """
    ddl = ClusterDDL(cluster=cluster, database=database)
    return {m.version: ddl.statements(f"{m.version:04d}_{m.name}", m.statements()) for m in migrations}


def apply_migrations(warehouse: Warehouse, migrations: list[Migration] | None = None) -> list[int]:
    """Apply pending migrations in order; return the versions applied now.

    With ``warehouse.cluster`` set the statements run in their cluster form (``ON CLUSTER``,
    replicated local tables, Distributed tables); otherwise exactly as written.
    """
    migrations = migrations if migrations is not None else load_migrations()
    cluster = warehouse.cluster
    rewritten = cluster_statements(migrations, cluster, warehouse.database) if cluster else {}
    on_cluster = f" ON CLUSTER {cluster}" if cluster else ""
    warehouse.command("CREATE DATABASE IF NOT EXISTS {db:Identifier}" + on_cluster)
    engine = _CLUSTER_MIGRATIONS_ENGINE if cluster else "ReplacingMergeTree"
    warehouse.command(
        f"CREATE TABLE IF NOT EXISTS {{db:Identifier}}.schema_migrations{on_cluster} "
        f"{_MIGRATIONS_COLUMNS} ENGINE = {engine} ORDER BY version"
    )
    done = {
        int(v): c
        for v, c in warehouse.rows("SELECT version, checksum FROM {db:Identifier}.schema_migrations FINAL")
    }
    applied: list[int] = []
    for migration in migrations:
        if migration.version in done:
            if done[migration.version] != migration.checksum:
                raise InvalidInputError(
                    f"migration {migration.version:04d}_{migration.name} changed after it was applied; "
                    "add a new migration instead of editing an applied one"
                )
            continue
        for statement in rewritten.get(migration.version) or migration.statements():
            warehouse.command(statement)
        warehouse.command(
            "INSERT INTO {db:Identifier}.schema_migrations (version, name, checksum) "
            "VALUES ({v:UInt32}, {n:String}, {c:String})",
            {"v": migration.version, "n": migration.name, "c": migration.checksum},
        )
        log.info("migration applied", extra={"version": migration.version, "migration": migration.name})
        applied.append(migration.version)
    return applied
