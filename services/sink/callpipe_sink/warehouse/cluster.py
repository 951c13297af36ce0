"""The migrations for a sharded, replicated ClickHouse cluster (``CLICKHOUSE_CLUSTER``).

The migration files hold single-node DDL; this module rewrites each statement for a cluster
instead of keeping hand-written cluster copies, so a migration added later works in both modes:

* every statement runs ``ON CLUSTER``;
* a ``*MergeTree`` table ``X`` becomes ``X_local`` with the ``Replicated`` engine of the same
  family (path ``/clickhouse/tables/{shard}/{database}/{table}``, replica ``{replica}``) plus a
  ``Distributed`` table ``X`` over it, sharded by ``cityHash64(call_id)`` when ``X`` has a
  ``call_id`` column: every version of a call lands on one shard, so ReplacingMergeTree still
  replaces it and ``FINAL`` stays correct per shard;
* a ``Null`` table (the Avro landing table) gets the same local + Distributed pair, so the sink's
  one insert is split by call and the views run on the shard that owns the call;
* other engines (EmbeddedRocksDB version lookups) stay per node under their own name;
* materialized views read and write the ``_local`` tables, so rollups are built per shard and
  the Distributed rollup tables merge the partial aggregate states at query time;
* ``ALTER`` on a split table changes the local table, and column changes the Distributed one too.

A statement this module does not know how to rewrite raises ``InvalidInputError`` naming the
migration and the statement, when the migrations are loaded: nothing half-applied.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from callpipe.errors import InvalidInputError

__all__ = ["LOCAL_SUFFIX", "REPLICA_PATH", "ClusterDDL"]

LOCAL_SUFFIX = "_local"
# ClickHouse expands the macros on each node ({shard}, {replica} from the server's <macros>).
REPLICA_PATH = "/clickhouse/tables/{shard}/{database}/{table}"
SHARDING_KEY = "cityHash64(call_id)"
_DB = r"\{db:Identifier\}"
_NAME = r"([A-Za-z_][A-Za-z0-9_]*)"
_CREATE_TABLE = re.compile(rf"^CREATE\s+TABLE\s+(IF\s+NOT\s+EXISTS\s+)?{_DB}\.{_NAME}\s*\(", re.I)
_CREATE_MV = re.compile(
    rf"^CREATE\s+MATERIALIZED\s+VIEW\s+(IF\s+NOT\s+EXISTS\s+)?{_DB}\.{_NAME}\s+TO\s+{_DB}\.{_NAME}\s", re.I
)
_CREATE_VIEW = re.compile(
    rf"^CREATE\s+(OR\s+REPLACE\s+)?VIEW\s+(IF\s+NOT\s+EXISTS\s+)?{_DB}\.{_NAME}\s", re.I
)
_CREATE_DATABASE = re.compile(rf"^CREATE\s+DATABASE\s+(IF\s+NOT\s+EXISTS\s+)?{_DB}", re.I)
_ALTER = re.compile(rf"^ALTER\s+TABLE\s+{_DB}\.{_NAME}\s+(.*)$", re.I | re.S)
_DROP = re.compile(rf"^DROP\s+(TABLE|VIEW|DICTIONARY)\s+(IF\s+EXISTS\s+)?{_DB}\.{_NAME}\s*(SYNC)?\s*$", re.I)
_ENGINE = re.compile(r"\bENGINE\s*=\s*([A-Za-z]+)\s*(\()?", re.I)
_MERGE_TREE = re.compile(
    r"^(|Replacing|Aggregating|Summing|Collapsing|VersionedCollapsing|Graphite)MergeTree$", re.I
)
# Replicated tables deduplicate inserts by themselves (replicated_deduplication_window).
_NON_REPLICATED_SETTING = re.compile(r"\bnon_replicated_deduplication_window\s*=\s*\d+\s*,?\s*", re.I)
_COLUMN_ALTER = re.compile(r"^(ADD|DROP|MODIFY|RENAME|COMMENT)\s+COLUMN\b", re.I)


def _closing_paren(text: str, open_at: int) -> int:
    depth = 0
    quote: str | None = None
    for i in range(open_at, len(text)):
        ch = text[i]
        if quote:
            if ch == quote and text[i - 1] != "\\":
                quote = None
        elif ch in "'`\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i
    raise ValueError("unbalanced parentheses")


def _top_level_items(body: str) -> list[str]:
    items, depth, start = [], 0, 0
    for i, ch in enumerate(body):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append(body[start:i].strip())
            start = i + 1
    items.append(body[start:].strip())
    return [item for item in items if item]


@dataclass
class ClusterDDL:
    """Rewrites migration statements for ``cluster``; remembers the tables it split across calls.

    Feed it every migration in order (applied ones too): a later ``ALTER`` or view needs to know
    which names were split into a local and a Distributed table.
    """

    cluster: str
    database: str
    split: set[str] = field(default_factory=set)
    local_only: set[str] = field(default_factory=set)

    @property
    def on_cluster(self) -> str:
        return f"ON CLUSTER {self.cluster}"

    def statements(self, migration_name: str, statements: list[str]) -> list[str]:
        out: list[str] = []
        for statement in statements:
            try:
                out.extend(self.rewrite(statement))
            except (InvalidInputError, ValueError) as exc:
                head = " ".join(statement.split())[:120]
                raise InvalidInputError(
                    f"migration {migration_name}: cannot run on cluster {self.cluster}: {exc} [{head}]"
                ) from exc
        return out

    def rewrite(self, statement: str) -> list[str]:
        sql = statement.strip()
        if match := _CREATE_DATABASE.match(sql):
            return [f"{sql[: match.end()]} {self.on_cluster}{sql[match.end() :]}"]
        if match := _CREATE_TABLE.match(sql):
            return self._create_table(sql, match)
        if match := _CREATE_MV.match(sql):
            # "... VIEW {db}.name ON CLUSTER c TO {db}.target_local AS SELECT ... _local ...".
            if_not_exists, name, target = match.group(1) or "", match.group(2), match.group(3)
            to = self._to_local(f"TO {{db:Identifier}}.{target} {sql[match.end() :]}")
            return [
                f"CREATE MATERIALIZED VIEW {if_not_exists}{{db:Identifier}}.{name} {self.on_cluster} {to}"
            ]
        if match := _CREATE_VIEW.match(sql):
            # A plain view reads the Distributed tables: the whole cluster, as a client would.
            name_end = match.end(3)
            return [f"{sql[:name_end]} {self.on_cluster}{sql[name_end:]}"]
        if match := _ALTER.match(sql):
            return self._alter(match.group(1), match.group(2))
        if match := _DROP.match(sql):
            return self._drop(match.group(1), match.group(2) or "", match.group(3))
        raise InvalidInputError("no cluster form for this kind of statement")

    def _create_table(self, sql: str, match: re.Match[str]) -> list[str]:
        name = match.group(2)
        columns_end = _closing_paren(sql, match.end() - 1)
        columns = sql[match.end() : columns_end]
        tail = sql[columns_end + 1 :]
        engine = _ENGINE.search(tail)
        if engine is None:
            raise InvalidInputError(f"table {name} names no ENGINE")
        family = engine.group(1)
        if family.lower().startswith("replicated") or family.lower() in ("distributed", "sharedmergetree"):
            raise InvalidInputError(f"table {name} is already cluster-specific (ENGINE = {family})")
        if_not_exists = match.group(1) or ""
        if _MERGE_TREE.match(family):
            args = ""
            after = engine.end(1)
            if engine.group(2):
                close = _closing_paren(tail, engine.end() - 1)
                args = tail[engine.end() : close].strip()
                after = close + 1
            replicated_args = ", ".join(a for a in (f"'{REPLICA_PATH}'", "'{replica}'", args) if a)
            local_tail = (
                f"{tail[: engine.start()]}ENGINE = Replicated{family}({replicated_args}){tail[after:]}"
            )
            local_tail = re.sub(r"\bSETTINGS\s*$", "", _NON_REPLICATED_SETTING.sub("", local_tail).rstrip())
            local_tail = re.sub(r",\s*$", "", local_tail.rstrip())
        elif family.lower() == "null":
            local_tail = tail
        else:
            # Per-node lookup tables (EmbeddedRocksDB, Memory, ...): the views on a shard read the
            # copy on their own node, which holds exactly the calls that shard owns.
            self.local_only.add(name)
            return [
                f"CREATE TABLE {if_not_exists}{{db:Identifier}}.{name} {self.on_cluster}\n({columns}){tail}"
            ]
        self.split.add(name)
        local = f"{name}{LOCAL_SUFFIX}"
        has_call_id = any(item.split()[0].strip("`") == "call_id" for item in _top_level_items(columns))
        key = f", {SHARDING_KEY}" if has_call_id else ""
        distributed = (
            f"CREATE TABLE {if_not_exists}{{db:Identifier}}.{name} {self.on_cluster} "
            f"AS {{db:Identifier}}.{local}\n"
            f"ENGINE = Distributed('{self.cluster}', '{self.database}', '{local}'{key})"
        )
        head = f"CREATE TABLE {if_not_exists}{{db:Identifier}}.{local} {self.on_cluster}"
        return [f"{head}\n({columns}){local_tail}", distributed]

    def _to_local(self, sql: str) -> str:
        """Point every reference to a split table at its local table."""
        if not self.split:
            return sql
        names = "|".join(sorted(self.split, key=len, reverse=True))
        return re.sub(rf"({_DB}\.)({names})\b", rf"\g<1>\g<2>{LOCAL_SUFFIX}", sql)

    def _alter(self, name: str, action: str) -> list[str]:
        if name not in self.split:
            return [f"ALTER TABLE {{db:Identifier}}.{name} {self.on_cluster} {action}"]
        local = f"ALTER TABLE {{db:Identifier}}.{name}{LOCAL_SUFFIX} {self.on_cluster} {action}"
        if _COLUMN_ALTER.match(action.strip()):
            # The Distributed table mirrors the columns (not indexes, TTLs or settings).
            return [local, f"ALTER TABLE {{db:Identifier}}.{name} {self.on_cluster} {action}"]
        return [local]

    def _drop(self, kind: str, if_exists: str, name: str) -> list[str]:
        drops = [f"DROP {kind} {if_exists}{{db:Identifier}}.{name} {self.on_cluster} SYNC"]
        if name in self.split:
            drops.append(
                f"DROP {kind} {if_exists}{{db:Identifier}}.{name}{LOCAL_SUFFIX} {self.on_cluster} SYNC"
            )
            self.split.discard(name)
        self.local_only.discard(name)
        return drops
