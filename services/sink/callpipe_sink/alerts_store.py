"""Alerts from the alerts topic into the ``alerts`` table, and the query behind ``GET /alerts``.

Its own consumer group (``<prefix>-sink-alerts``), apart from the analyses batches. At-least-once:
offsets are committed after ClickHouse acknowledged the rows; a repeat collapses on alert_id.
An erased call's id is dropped from a redelivered alert's sample calls (the erasure tombstones).
An alert that does not decode is skipped with a log line (the alerts job's contract is ours).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime
from typing import Any

import pyarrow as pa
from confluent_kafka import Consumer

from callpipe.avro import AvroSerde, SchemaRegistry
from callpipe.errors import CallpipeError, PoisonMessageError
from callpipe.kafka import consumer_config
from callpipe.models import AlertRaised
from callpipe.settings import KafkaSettings, RunnerSettings
from callpipe_sink.lifecycle.erasure import Tombstones
from callpipe_sink.warehouse import Warehouse

__all__ = ["ALERTS_STAGE", "AlertQueries", "AlertsConsumer"]

log = logging.getLogger(__name__)

ALERTS_STAGE = "sink-alerts"
_SCHEMA = pa.schema(
    [
        ("alert_id", pa.string()),
        ("rule", pa.string()),
        ("kind", pa.string()),
        ("severity", pa.string()),
        ("subject", pa.string()),
        ("window_start", pa.timestamp("ms", tz="UTC")),
        ("window_end", pa.timestamp("ms", tz="UTC")),
        ("value", pa.float64()),
        ("baseline", pa.float64()),
        ("threshold", pa.float64()),
        ("calls_in_window", pa.uint32()),
        ("message", pa.string()),
        ("sample_call_ids", pa.list_(pa.string())),
        ("raised_at", pa.timestamp("ms", tz="UTC")),
    ]
)
_COLUMNS = _SCHEMA.names


class AlertsConsumer:
    def __init__(
        self,
        warehouse: Warehouse,
        kafka: KafkaSettings,
        topic: str,
        registry: SchemaRegistry,
        runner: RunnerSettings | None = None,
    ) -> None:
        self._wh = warehouse
        self._tombstones = Tombstones(warehouse)
        self._topic = topic
        self._serde = AvroSerde(AlertRaised, registry, f"{topic}-value")
        self._config = consumer_config(kafka, ALERTS_STAGE, runner=runner)
        self._stopping = asyncio.Event()
        self.rows_written = 0

    def stop(self) -> None:
        self._stopping.set()

    def rows(self, values: list[bytes]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for value in values:
            try:
                alert = self._serde.deserialize(value)
            except PoisonMessageError as exc:
                log.error("undecodable alert skipped", extra={"reason": exc.reason})
                continue
            record = alert.model_dump(mode="python")
            rows.append({c: record[c] for c in _COLUMNS})
        return rows

    async def run(self) -> None:
        consumer = Consumer(self._config)
        consumer.subscribe([self._topic])
        try:
            while not self._stopping.is_set():
                messages = await asyncio.to_thread(consumer.consume, 500, 0.5)
                values = [v for m in messages if m.error() is None and (v := m.value())]
                rows = self.rows(values)
                if rows:
                    await self._store(rows)
                if messages:
                    with contextlib.suppress(Exception):  # nothing assigned yet: redelivery is harmless
                        await asyncio.to_thread(consumer.commit, asynchronous=False)
        finally:
            await asyncio.to_thread(consumer.close)

    def _without_erased(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # A replayed alert would otherwise put an erased call's id back (the row replaces the
        # one the erasure filtered): the alert is kept, the erased ids are left out of it.
        erased = self._tombstones.erased_among([c for r in rows for c in r["sample_call_ids"]])
        if not erased:
            return rows
        return [{**r, "sample_call_ids": [c for c in r["sample_call_ids"] if c not in erased]} for r in rows]

    async def _store(self, rows: list[dict[str, Any]]) -> None:
        delay = 0.5
        while True:
            try:
                kept = await asyncio.to_thread(self._without_erased, rows)
                await asyncio.to_thread(
                    self._wh.insert_arrow, "alerts", pa.Table.from_pylist(kept, schema=_SCHEMA)
                )
                self.rows_written += len(rows)
                return
            except CallpipeError as exc:
                log.warning("alerts insert failed, retrying", extra={"error": str(exc), "retry_in_s": delay})
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), delay)
                if self._stopping.is_set():
                    raise
                delay = min(delay * 2, 30.0)


class AlertQueries:
    def __init__(self, warehouse: Warehouse) -> None:
        self._wh = warehouse

    def recent(
        self, since: datetime, until: datetime, limit: int, severity: str | None
    ) -> list[dict[str, Any]]:
        where = "window_end >= {since:DateTime64(3, 'UTC')} AND window_start < {until:DateTime64(3, 'UTC')}"
        params: dict[str, Any] = {"since": since, "until": until, "limit": limit}
        if severity is not None:
            where += " AND severity = {severity:String}"
            params["severity"] = severity
        return self._wh.dicts(
            # Column names and the WHERE text are constants of this module; values are bound parameters.
            f"SELECT {', '.join(_COLUMNS)} FROM {{db:Identifier}}.alerts FINAL WHERE {where} "  # noqa: S608
            "ORDER BY window_start DESC, rule, subject LIMIT {limit:UInt32}",
            params,
        )
