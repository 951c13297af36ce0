"""Every Grafana panel's SQL runs against chdb, with the ClickHouse plugin's macros expanded the
way grafana-clickhouse-datasource (v4, pkg/macros) expands them, and returns seeded data."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from callpipe.avro import AvroSerde, LocalSchemaRegistry
from callpipe.models import AlertRaised
from callpipe.settings import KafkaSettings
from callpipe_sink.alerts_store import AlertsConsumer
from callpipe_sink.avro_batch import decode_analysis
from callpipe_sink.lifecycle import CallEventRow
from callpipe_sink.lifecycle.events_consumer import rows_table
from callpipe_sink.warehouse import Warehouse
from callpipe_sink.writer import SinkWriter
from callpipe_tools.synthetic.analyses import synthetic_analyses
from tests.integration.sink.sink_it_support import SEED_END

GRAFANA = Path(__file__).resolve().parents[3] / "services" / "sink" / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))


def expand_macros(sql: str, start: datetime, end: datetime, interval_s: int) -> str:
    """The plugin's macros as documented by its source: seconds-precision DateTime bounds,
    millisecond DateTime64 bounds for the _ms variants, toStartOfInterval for $__timeInterval."""
    frm, to = int(start.timestamp()), int(end.timestamp())
    frm_ms, to_ms = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
    interval = max(interval_s, 1)
    rules: list[tuple[str, Any]] = [
        (
            r"\$__timeFilter_ms\(([^)]+)\)",
            lambda m: (
                f"{m[1]} >= fromUnixTimestamp64Milli({frm_ms}) "
                f"AND {m[1]} <= fromUnixTimestamp64Milli({to_ms})"
            ),
        ),
        (
            r"\$__timeFilter\(([^)]+)\)",
            lambda m: f"{m[1]} >= toDateTime({frm}) AND {m[1]} <= toDateTime({to})",
        ),
        (
            r"\$__dateFilter\(([^)]+)\)",
            lambda m: f"{m[1]} >= toDate('{start:%Y-%m-%d}') AND {m[1]} <= toDate('{end:%Y-%m-%d}')",
        ),
        (
            r"\$__timeInterval_ms\(([^)]+)\)",
            lambda m: f"toStartOfInterval(toDateTime64({m[1]}, 3), INTERVAL {interval * 1000} millisecond)",
        ),
        (
            r"\$__timeInterval\(([^)]+)\)",
            lambda m: f"toStartOfInterval(toDateTime({m[1]}), INTERVAL {interval} second)",
        ),
        (r"\$__fromTime_ms\b", lambda m: f"fromUnixTimestamp64Milli({frm_ms})"),
        (r"\$__toTime_ms\b", lambda m: f"fromUnixTimestamp64Milli({to_ms})"),
        (r"\$__fromTime\b", lambda m: f"toDateTime({frm})"),
        (r"\$__toTime\b", lambda m: f"toDateTime({to})"),
        (r"\$__interval_s\b", lambda m: str(interval)),
    ]
    for pattern, replace in rules:
        sql = re.sub(pattern, replace, sql)
    leftover = re.findall(r"\$\w+", sql)
    assert not leftover, f"unexpanded macro or variable: {leftover}"
    return sql


def _panels(path: Path) -> list[dict[str, Any]]:
    dashboard = json.loads(path.read_text())
    found: list[dict[str, Any]] = []
    for panel in dashboard["panels"]:
        found.extend(panel.get("panels", [panel]))  # rows hold panels
    return found


def test_macro_expansion_matches_the_plugin() -> None:
    start, end = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)
    assert expand_macros("$__timeFilter(t)", start, end, 60) == (
        "t >= toDateTime(1767225600) AND t <= toDateTime(1767312000)"
    )
    assert expand_macros("$__timeInterval(t)", start, end, 0) == (
        "toStartOfInterval(toDateTime(t), INTERVAL 1 second)"
    )
    assert expand_macros("$__fromTime_ms", start, end, 1) == "fromUnixTimestamp64Milli(1767225600000)"


def test_datasource_provisioning_matches_the_dashboards() -> None:
    provisioning = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "clickhouse.yaml").read_text())
    source = provisioning["datasources"][0]
    assert source["type"] == "grafana-clickhouse-datasource"
    assert source["secureJsonData"]["password"].startswith("$")  # from the environment, not the file
    assert DASHBOARDS, "no dashboard JSON"
    for path in DASHBOARDS:
        for panel in _panels(path):
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == source["uid"], (path.name, panel["title"])


@pytest.fixture
def seeded(
    warehouse: Warehouse, writer: SinkWriter, serde: AvroSerde[Any], registry: LocalSchemaRegistry
) -> Warehouse:
    events = synthetic_analyses(4000, end=SEED_END, days=14, seed=9)
    writer.write([decode_analysis(serde.serialize_dict(e)) for e in events])
    # Two dead-lettered calls in the window (one later replayed and stored: not failed any more).
    at = SEED_END - timedelta(days=1)
    warehouse.insert_arrow(
        "call_events",
        rows_table(
            [
                CallEventRow(
                    "CA-dl-1", "dead_lettered", "transcriber", at, "InvalidInputError", "bad audio", 1
                ),
                CallEventRow("CA-dl-2", "dead_lettered", "analyzer", at, "TransientError", "LLM 503", 5),
                CallEventRow("CA-dl-3", "dead_lettered", "analyzer", at, "TransientError", "LLM 503", 5),
                CallEventRow("CA-dl-3", "stored", "sink", at + timedelta(hours=1)),
            ]
        ),
    )
    _seed_alerts(warehouse, registry)
    return warehouse


def _seed_alerts(warehouse: Warehouse, registry: LocalSchemaRegistry) -> None:
    """Three alerts through the sink's own decoding and insert (one raised twice: a redelivery),
    two inside the panels' range and one long before it."""
    serde = AvroSerde(AlertRaised, registry, "callpipe.alerts-value")
    consumer = AlertsConsumer(warehouse, KafkaSettings(), "callpipe.alerts", registry)

    def alert(rule: str, severity: str, start: datetime) -> AlertRaised:
        return AlertRaised(
            alert_id=f"{rule}-{start:%Y%m%d%H%M}",
            rule=rule,
            kind="spike",
            severity=severity,
            subject="category=cancellation_threat",
            window_start=start,
            window_end=start + timedelta(minutes=15),
            value=12.0,
            baseline=3.0,
            threshold=6.0,
            calls_in_window=80,
            message=f"{rule}: 12 calls against a baseline of 3",
            sample_call_ids=["CA-a", "CA-b"],
            raised_at=start + timedelta(minutes=16),
        )

    spike = alert("category_spike", "warning", SEED_END - timedelta(hours=5))
    rate = alert("escalation_rate", "critical", SEED_END - timedelta(hours=2))
    old = alert("category_spike", "warning", SEED_END - timedelta(days=30))
    rows = consumer.rows([serde.serialize(a) for a in (spike, rate, old, spike)])
    asyncio.run(consumer._store(rows))


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_every_panel_query_runs_and_returns_data(seeded: Warehouse, path: Path) -> None:
    start, end = SEED_END - timedelta(days=7), SEED_END
    titles = []
    for panel in _panels(path):
        for target in panel["targets"]:
            sql = expand_macros(target["rawSql"], start, end, interval_s=3600)
            # Panels name the compose database; the test runs in its own.
            sql = sql.replace("callpipe.", f"{seeded.database}.")
            rows = seeded.rows(sql)
            if panel["title"] == "Failed calls":
                assert rows == [(2,)], rows  # the replayed-and-stored call is not failed
            if panel["title"] == "Recent alerts":
                # The two alerts in the range, newest window first; the redelivery counts once.
                assert [(r[2], r[3]) for r in rows] == [
                    ("critical", "escalation_rate"),
                    ("warning", "category_spike"),
                ], rows
            if panel["title"] == "Alerts per hour by severity":
                assert sorted((r[1], r[2]) for r in rows) == [("critical", 1), ("warning", 1)], rows
            assert rows, f"panel {panel['title']!r} returned no rows"
            assert any(value not in (None, 0, "") for row in rows for value in row), panel["title"]
            titles.append(panel["title"])
    # The list: volume by intent, satisfaction, escalation, topics, competitors, sentiment
    # by role, talk/silence shares, per-agent table.
    for wanted in (
        "Volume by intent",
        "Satisfaction trend",
        "Escalation and churn rate over time",
        "Top topics",
        "Competitor mentions by competitor",
        "Sentiment by role",
        "Talk and silence shares",
        "Agents",
        "Failed calls",
        "Failed calls by stage and reason",
        # issue 15: categories and per-agent scorecards
        "Calls by category over time",
        "Category share of calls",
        "QA scorecards per agent",
        "QA question pass rates",
        "QA score trend",
        # issue 15: the alerts job's alerts
        "Recent alerts",
        "Alerts per hour by severity",
    ):
        assert wanted in titles
