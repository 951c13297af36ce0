"""Retention settings → ClickHouse TTL DDL, single node and CLICKHOUSE_CLUSTER form."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from callpipe.kafka import topic_config
from callpipe.settings import KafkaSettings, RetentionSettings
from callpipe_sink.retention import KEPT_TABLES, TableTTL, table_ttls, ttl_statements
from callpipe_sink.retention.ttl import cluster_ddl
from callpipe_sink.warehouse import load_migrations

_TABLE = re.compile(r"^CREATE TABLE IF NOT EXISTS \{db:Identifier\}\.(\w+)[\s\S]*ENGINE\s*=\s*(\w+)", re.I)


def test_each_table_expires_by_its_own_setting_from_the_call_start() -> None:
    ttls = {t.table: t for t in table_ttls(RetentionSettings(analysis_days=400, transcript_days=90))}
    assert ttls == {
        "calls": TableTTL("calls", "started_at", 400),
        "utterances": TableTTL("utterances", "started_at", 90),
        "call_events": TableTTL("call_events", "at", 400),
        "call_quality": TableTTL("call_quality", "started_at", 400),
        "alerts": TableTTL("alerts", "window_end", 400),
    }


def test_single_node_ddl_modifies_or_removes_the_ttl() -> None:
    assert ttl_statements(TableTTL("calls", "started_at", 30)) == [
        "ALTER TABLE {db:Identifier}.calls MODIFY TTL toDateTime(started_at) + toIntervalDay(30)"
    ]
    assert ttl_statements(TableTTL("utterances", "started_at", 0)) == [
        "ALTER TABLE {db:Identifier}.utterances REMOVE TTL"
    ]


def test_cluster_ddl_alters_the_replicated_local_tables_on_cluster_only() -> None:
    ddl = cluster_ddl("prod", "callpipe")
    for ttl in table_ttls(RetentionSettings(analysis_days=30, transcript_days=7)):
        assert ttl_statements(ttl, ddl) == [
            f"ALTER TABLE {{db:Identifier}}.{ttl.table}_local ON CLUSTER prod MODIFY TTL {ttl.expression}"
        ]
    assert ttl_statements(TableTTL("calls", "started_at", 0), ddl) == [
        "ALTER TABLE {db:Identifier}.calls_local ON CLUSTER prod REMOVE TTL"
    ]


def test_every_table_that_holds_rows_has_a_retention_decision() -> None:
    """A table added by a later migration must either expire or say why it is kept."""
    holding: set[str] = set()
    for migration in load_migrations():
        for statement in migration.statements():
            if (match := _TABLE.match(statement)) and match.group(2).lower() != "null":
                holding.add(match.group(1))
    expiring = {t.table for t in table_ttls(RetentionSettings())}
    assert holding - expiring - set(KEPT_TABLES) == set()
    assert {"erasures", "erased_calls"} <= set(KEPT_TABLES)  # the audit outlives the data


def test_retention_settings_default_to_forever_and_empty_means_forever(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert RetentionSettings().model_dump(include={"audio_days", "transcript_days", "analysis_days"}) == {
        "audio_days": 0,
        "transcript_days": 0,
        "analysis_days": 0,
    }
    monkeypatch.setenv("RETENTION_AUDIO_DAYS", "")
    monkeypatch.setenv("RETENTION_TRANSCRIPT_DAYS", "180")
    settings = RetentionSettings()
    assert (settings.audio_days, settings.transcript_days) == (0, 180)
    with pytest.raises(ValidationError):
        RetentionSettings(analysis_days=-1)


@pytest.mark.parametrize(
    ("audio", "original", "effective"),
    [(0, 0, 0), (0, 7, 7), (90, 0, 90), (90, 7, 7), (30, 60, 30)],
)
def test_originals_never_outlive_the_archived_audio(audio: int, original: int, effective: int) -> None:
    settings = RetentionSettings(audio_days=audio, original_audio_days=original)
    assert settings.effective_original_audio_days == effective


def test_topic_retention_is_set_only_when_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    assert topic_config(KafkaSettings()) == {}
    assert topic_config(KafkaSettings(topic_retention_hours=72)) == {"retention.ms": str(72 * 3_600_000)}
    monkeypatch.setenv("KAFKA_TOPIC_RETENTION_HOURS", "")
    assert KafkaSettings().topic_retention_hours is None
    with pytest.raises(ValidationError):
        KafkaSettings(topic_retention_hours=0)
