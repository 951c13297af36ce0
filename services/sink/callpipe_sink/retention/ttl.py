"""ClickHouse TTLs driven by ``RETENTION_*``, applied by the sink at start after the migrations.

Which table expires by which setting, and from which time:

========================  =========================  ==========================================
table                     setting                    clock
========================  =========================  ==========================================
``calls``                 RETENTION_ANALYSIS_DAYS    ``started_at``: when the call took place
``utterances``            RETENTION_TRANSCRIPT_DAYS  ``started_at`` (the call's, copied per turn)
``call_events``           RETENTION_ANALYSIS_DAYS    ``at``: when the event happened
========================  =========================  ==========================================

Why the call's start and not the stored time (``inserted_at``): a retention policy says "N days
after the call", and a re-analysis (reprocess) inserts the row again; counting from the insert
would restart the clock on every reprocessing, and a backfill of old calls would keep them a full
period after import. ``started_at`` falls back to the receive time when telephony did not say.
``call_events`` lives as long as the analyses: a call's status is read beside its analysis, and
the events of a call that failed (no ``calls`` row) are its only trace, kept as long. It has no
call start, so each event expires by its own time: for live traffic the same day as the call; a
backfilled or reprocessed old call's new events (``stored`` at the insert) outlive its row by up
to the period (call id, event and stage only: no number or text).

Kept on purpose (``KEPT_TABLES``): the audit trail of erasures must outlive the data it vouches
for (it holds call hashes, never a number or text), as must the tombstones that keep an erased
call from coming back; the hourly rollups are anonymous counts (no call id, number or text), so
dashboards keep their history; the version lookups hold only (call_id, analyzed_at) and stop an
expired call replayed from Kafka from being counted into the rollups twice.

Idempotent: each table's current TTL is read from ``system.tables`` and only a difference is
applied (``MODIFY TTL``; ``REMOVE TTL`` when the setting is back to 0), because changing a TTL
rewrites the table's parts once (``materialize_ttl_after_modify``), which also deletes the rows
already past it. Rows are then removed by TTL merges (at most every ``merge_with_ttl_timeout``,
4 h by default), not at the second they expire. With ``CLICKHOUSE_CLUSTER`` the statements are the
migrations' cluster form (``cluster.py``): ``ON CLUSTER`` on the replicated ``_local`` tables,
where the data is; the Distributed tables hold none.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from callpipe.settings import RetentionSettings
from callpipe_sink.warehouse import SchemaMissingError, Warehouse, load_migrations
from callpipe_sink.warehouse.cluster import LOCAL_SUFFIX, ClusterDDL

__all__ = ["KEPT_TABLES", "TableTTL", "apply_ttls", "current_ttl", "table_ttls", "ttl_statements"]

log = logging.getLogger("callpipe.sink.retention")

# Tables that never expire, and why (the docstring above says more).
KEPT_TABLES: dict[str, str] = {
    "erasures": "audit trail of erasures: must outlive the data; no personal data",
    "erased_calls": "tombstones (call hashes) that keep erased calls from coming back",
    "calls_hourly": "anonymous hourly aggregate",
    "agents_hourly": "anonymous hourly aggregate",
    "topics_hourly": "anonymous hourly aggregate",
    "competitors_hourly": "anonymous hourly aggregate",
    "call_versions": "call id and version only: an expired call replayed from Kafka is not re-counted",
    "utterance_versions": "call id and version only",
    "rollup_versions": "call id, version and hour only: what the rollups counted (reprocess)",
    "rollup_dirty_hours": "hours waiting for a rollup recompute: no call data, emptied by the sink",
}
_TTL_CLAUSE = re.compile(r"\bTTL\s+(.+?)(?:\s+SETTINGS\s|$)", re.S)


@dataclass(frozen=True)
class TableTTL:
    """One table's row TTL: ``days`` after ``time_column``; 0 = no TTL (keep forever)."""

    table: str
    time_column: str
    days: int

    @property
    def expression(self) -> str:
        # Written as ClickHouse prints it back in system.tables, so an unchanged setting compares
        # equal; toDateTime because a TTL must be a Date or DateTime, the columns are DateTime64.
        return f"toDateTime({self.time_column}) + toIntervalDay({self.days})"


def table_ttls(settings: RetentionSettings) -> list[TableTTL]:
    return [
        TableTTL("calls", "started_at", settings.analysis_days),
        TableTTL("utterances", "started_at", settings.transcript_days),
        TableTTL("call_events", "at", settings.analysis_days),
        # Category evidence quotes what was said: it goes with the analysis it belongs to.
        TableTTL("call_quality", "started_at", settings.analysis_days),
        # Alerts name sample calls: kept as long as the analyses they point at.
        TableTTL("alerts", "window_end", settings.analysis_days),
    ]


def _statement(ttl: TableTTL) -> str:
    action = f"MODIFY TTL {ttl.expression}" if ttl.days > 0 else "REMOVE TTL"
    return f"ALTER TABLE {{db:Identifier}}.{ttl.table} {action}"


def ttl_statements(ttl: TableTTL, cluster: ClusterDDL | None = None) -> list[str]:
    """The DDL setting (or removing) ``ttl``, in the cluster's form when one is given."""
    statement = _statement(ttl)
    return cluster.rewrite(statement) if cluster is not None else [statement]


def cluster_ddl(cluster: str, database: str) -> ClusterDDL:
    """A rewriter that has seen every migration, so it knows which tables are split."""
    ddl = ClusterDDL(cluster=cluster, database=database)
    for migration in load_migrations():
        ddl.statements(f"{migration.version:04d}_{migration.name}", migration.statements())
    return ddl


def current_ttl(warehouse: Warehouse, table: str) -> str | None:
    """The table-level TTL expression of ``table`` in the warehouse's database, None if none."""
    rows = warehouse.rows(
        "SELECT engine_full FROM system.tables WHERE database = {d:String} AND name = {t:String}",
        {"d": warehouse.database, "t": table},
    )
    if not rows:
        raise SchemaMissingError(
            f"table {warehouse.database}.{table} does not exist (migrations not applied?)"
        )
    match = _TTL_CLAUSE.search(str(rows[0][0]))
    return match.group(1).strip() if match else None


def apply_ttls(warehouse: Warehouse, settings: RetentionSettings, *, dry_run: bool = False) -> list[str]:
    """Bring every table's TTL to what ``settings`` say; returns the statements run now (with
    ``dry_run``, the statements that would run, running none)."""
    ddl = cluster_ddl(warehouse.cluster, warehouse.database) if warehouse.cluster else None
    ran: list[str] = []
    for ttl in table_ttls(settings):
        physical = ttl.table + LOCAL_SUFFIX if ddl is not None and ttl.table in ddl.split else ttl.table
        current = current_ttl(warehouse, physical)
        wanted = ttl.expression if ttl.days > 0 else None
        if current == wanted:
            continue
        for statement in ttl_statements(ttl, ddl):
            if not dry_run:
                warehouse.command(statement)
            ran.append(statement)
        if dry_run:
            continue
        log.info(
            "retention TTL changed",
            extra={"table": ttl.table, "days": ttl.days, "before": current or "none"},
        )
    return ran
