"""One ClickHouse client for a server (clickhouse-connect over HTTP) or embedded chdb.

The only module of the sink that imports clickhouse-connect. Both backends expose the same client
API, so the writer and the insights queries do not know which one runs. chdb allows one open data
directory per process (a second one gets "Cannot lock file"), so the embedded client is opened
once and shared by the writer and the insights API; clickhouse-connect's chdb client was
measured correct with concurrent threads.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import clickhouse_connect
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError, DatabaseError, OperationalError

from callpipe.errors import CallpipeError, DependencyUnavailableError, InvalidInputError, TransientError
from callpipe_sink.settings import WarehouseSettings

__all__ = ["SchemaMissingError", "Warehouse", "open_warehouse", "translate_error"]

log = logging.getLogger(__name__)

# Server error codes that mean "the data is unusable" (retrying the same rows cannot help):
# TYPE_MISMATCH, CANNOT_PARSE_*, CANNOT_READ_ALL_DATA (33), INCORRECT_DATA (117: unreadable Avro),
# VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE, FUNCTION_THROW_IF_VALUE_IS_NON_ZERO (395: a contract check
# of the ingest views) …
_BAD_DATA_CODES = frozenset({6, 27, 33, 38, 41, 53, 69, 70, 72, 117, 131, 321, 395})
# Codes that mean the server is overloaded or not ready: pause and retry forever.
_UNAVAILABLE_CODES = frozenset({159, 202, 209, 210, 241, 242, 252, 425, 439})
# UNKNOWN_TABLE, UNKNOWN_DATABASE: the server is up but callpipe's tables are gone (a new volume, a
# dropped database). Retrying the same rows can never help until they exist again; dead-lettering
# them would lose every call of the outage.
_SCHEMA_MISSING_CODES = frozenset({60, 81})


# On a cluster the sink inserts through Distributed tables. Foreground inserts make the insert
# return only once every shard stored its rows (the default queues them on the receiving node,
# which would let the sink commit offsets for rows not yet stored); in_order sends a shard's rows
# to the same replica each time, so that replica's per-node version lookup sees every version.
# The insights queries join and filter calls and utterances by call_id; both are sharded by it,
# so a subquery on a Distributed table may run on each shard's local table ("local") instead of
# being refused (the default "deny") or broadcast to every shard ("global").
_CLUSTER_SESSION: dict[str, Any] = {
    "distributed_foreground_insert": 1,
    "load_balancing": "in_order",
    "distributed_product_mode": "local",
}


class SchemaMissingError(DependencyUnavailableError):
    """ClickHouse answers but lacks callpipe's database or tables (re-apply the migrations)."""


def translate_error(exc: Exception, what: str) -> CallpipeError:
    """Map a clickhouse-connect error onto the callpipe tree (the class decides retry or DLQ)."""
    if isinstance(exc, CallpipeError):
        return exc
    if isinstance(exc, OperationalError):  # connection refused, timeout, HTTP 5xx from a proxy
        return DependencyUnavailableError(f"ClickHouse unreachable during {what}: {exc}")
    code = getattr(exc, "code", None)
    if isinstance(exc, DatabaseError) and code is not None:
        code = int(code)
        # STD_EXCEPTION (1001) wrapping the Avro library's own error: the bytes do not decode.
        if code in _BAD_DATA_CODES or (code == 1001 and "avro::Exception" in str(exc)):
            return InvalidInputError(f"ClickHouse rejected the data of {what} (code {code}): {exc}")
        if code in _SCHEMA_MISSING_CODES:
            return SchemaMissingError(f"ClickHouse lacks our tables during {what} (code {code}): {exc}")
        if code in _UNAVAILABLE_CODES:
            return DependencyUnavailableError(f"ClickHouse overloaded during {what} (code {code}): {exc}")
    if isinstance(exc, ClickHouseError):
        return TransientError(f"ClickHouse error during {what}: {exc}")
    # Low-level socket/HTTP errors that clickhouse-connect lets through.
    if isinstance(exc, OSError | ConnectionError | TimeoutError):
        return DependencyUnavailableError(f"ClickHouse unreachable during {what}: {exc!r}")
    return TransientError(f"unexpected error during {what}: {exc!r}")


class Warehouse:
    """A clickhouse-connect client bound to callpipe's database, raising only callpipe errors."""

    def __init__(self, client: Client, database: str, *, embedded: bool, cluster: str | None = None) -> None:
        self.client = client
        self.database = database
        self.embedded = embedded
        # Set: the migrations run in their cluster form (warehouse/cluster.py).
        self.cluster = cluster

    def table(self, name: str) -> str:
        return f"{self.database}.{name}"

    def _params(self, parameters: Mapping[str, Any] | None) -> dict[str, Any]:
        # Every statement names tables as {db:Identifier}.<table>: the database is bound by the
        # server like any other parameter, so no SQL text is ever built from values.
        return {"db": self.database, **(parameters or {})}

    def command(self, sql: str, parameters: Mapping[str, Any] | None = None) -> Any:
        try:
            return self.client.command(sql, parameters=self._params(parameters))
        except Exception as exc:
            raise translate_error(exc, "command") from exc

    def rows(self, sql: str, parameters: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Run a parameterized query ({name:Type} placeholders) and return its rows."""
        try:
            result = self.client.query(sql, parameters=self._params(parameters))
        except Exception as exc:
            raise translate_error(exc, "query") from exc
        return [tuple(row) for row in result.result_rows]

    def dicts(self, sql: str, parameters: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        try:
            result = self.client.query(sql, parameters=self._params(parameters))
        except Exception as exc:
            raise translate_error(exc, "query") from exc
        names: Sequence[str] = result.column_names
        return [dict(zip(names, row, strict=True)) for row in result.result_rows]

    def insert_arrow(self, table: str, arrow_table: Any, settings: Mapping[str, Any] | None = None) -> None:
        try:
            self.client.insert_arrow(self.table(table), arrow_table, settings=dict(settings or {}))
        except Exception as exc:
            raise translate_error(exc, f"insert into {table}") from exc

    def insert_avro(self, table: str, container: bytes, settings: Mapping[str, Any] | None = None) -> None:
        """Insert an Avro object container file; ClickHouse decodes it and runs the table's views."""
        try:
            self.client.raw_insert(
                self.table(table), None, container, settings=dict(settings or {}), fmt="Avro"
            )
        except Exception as exc:
            raise translate_error(exc, f"insert into {table}") from exc

    def ping(self) -> bool:
        try:
            self.client.query("SELECT 1")
        except Exception:  # noqa: BLE001 - a health probe answers yes or no
            return False
        return True

    def close(self) -> None:
        self.client.close()


def open_warehouse(settings: WarehouseSettings) -> Warehouse:
    """Connect to the server named by ``settings.url``, or open the embedded chdb directory."""
    try:
        if settings.url is None:
            client = clickhouse_connect.get_client(interface="chdb", path=settings.chdb_path)
        else:
            client = clickhouse_connect.get_client(
                dsn=settings.url,
                username=settings.username,
                password=settings.password.get_secret_value() if settings.password else "",
                connect_timeout=settings.connect_timeout_s,
                send_receive_timeout=settings.query_timeout_s,
                autogenerate_session_id=False,
                settings=_CLUSTER_SESSION if settings.cluster else None,
            )
    except Exception as exc:
        raise translate_error(exc, "connect") from exc
    where = settings.chdb_path if settings.url is None else settings.url.split("@")[-1]
    log.info("warehouse opened", extra={"backend": "chdb" if settings.url is None else "server", "at": where})
    return Warehouse(client, settings.database, embedded=settings.url is None, cluster=settings.cluster)
