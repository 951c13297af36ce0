"""The batch writer against embedded ClickHouse: column mapping, idempotence, contract checks."""

from __future__ import annotations

import io
import re
import struct
import uuid
from datetime import timedelta
from typing import Any

import pytest
from fastavro import parse_schema, schemaless_writer

from callpipe.avro import AvroSerde, LocalSchemaRegistry
from callpipe.errors import InvalidInputError, PermanentError
from callpipe.models import AnalysisStatus, CallAnalyzed, ChurnRisk
from callpipe_sink.avro_batch import AnalysisPayload, SchemaResolver, decode_analysis
from callpipe_sink.warehouse import Warehouse, apply_migrations, load_migrations
from callpipe_sink.writer import SinkWriter
from callpipe_sink.writer_schemas import WriterSchemaUpgrade
from callpipe_tools.examples import example_analysis
from callpipe_tools.synthetic.analyses import synthetic_analyses
from tests.integration.sink.sink_it_support import SEED_END


def _payloads(serde: AvroSerde[CallAnalyzed], events: list[dict[str, Any]]) -> list[AnalysisPayload]:
    return [decode_analysis(serde.serialize_dict(e)) for e in events]


def _counts(wh: Warehouse) -> dict[str, int]:
    one = lambda sql: int(wh.rows(sql)[0][0])  # noqa: E731
    return {
        "calls": one("SELECT count() FROM {db:Identifier}.calls"),
        "calls_final": one("SELECT count() FROM {db:Identifier}.calls FINAL"),
        "utterances": one("SELECT count() FROM {db:Identifier}.utterances"),
        "rollup_calls": one("SELECT countMerge(calls) FROM {db:Identifier}.calls_hourly"),
        "rollup_topics": one("SELECT countMerge(calls) FROM {db:Identifier}.topics_hourly"),
        "rollup_mentions": one("SELECT sumMerge(mentions) FROM {db:Identifier}.competitors_hourly"),
    }


def test_every_field_lands_in_its_column(warehouse: Warehouse, writer: SinkWriter, serde) -> None:
    event = example_analysis("CA-map-1")
    writer.write([decode_analysis(serde.serialize(event))])
    row = warehouse.dicts("SELECT * FROM {db:Identifier}.calls WHERE call_id = 'CA-map-1'")[0]
    assert event.analysis is not None
    assert row["intent"] == event.analysis.intent
    assert row["key_topics"] == event.analysis.key_topics
    assert row["satisfaction_score"] == event.analysis.satisfaction_score
    assert row["escalation_risk"] == "medium"
    assert row["churn_risk"] == "medium"
    assert row["caller_sentiment"] == "negative"
    assert row["agent_sentiment_score"] == pytest.approx(0.5)
    assert row["competitors"] == ["Globex"] and row["competitor_counts"] == [1]
    assert row["custom_question_ids"] == ["offered_upgrade"] and row["custom_answers"] == ["no"]
    assert row["caller_talk_share"] == pytest.approx(20 / 42.5, rel=1e-6)
    assert row["agent_talk_share"] is None  # the example has caller metrics only
    assert row["caller_words_per_minute"] == pytest.approx(180.0)
    assert row["caller_interruptions"] == 1
    assert row["redaction_counts"] == {"card_number": 1}
    assert row["agent_id"] == "agent-17" and row["queue"] == "billing" and row["direction"] == "inbound"
    assert row["attributes"] == {"campaign": "fall-promo", "crm_id": "C-1042"}
    assert row["started_at_known"] is True
    assert row["started_at"].replace(tzinfo=None) == event.metadata.started_at.replace(  # type: ignore[union-attr]
        tzinfo=None, microsecond=123000
    )
    assert row["analyzed_at"].replace(tzinfo=None) == event.analyzed_at.replace(tzinfo=None)
    assert row["timing_stages"] == [t.stage for t in event.timings]
    assert row["stt_engine"] == "faster-whisper" and row["model"] == event.model
    utterances = warehouse.dicts(
        "SELECT idx, role, text, channel FROM {db:Identifier}.utterances "
        "WHERE call_id = 'CA-map-1' ORDER BY idx"
    )
    assert [(u["idx"], u["role"], u["text"], u["channel"]) for u in utterances] == [
        (i, u.role.value, u.text, u.channel) for i, u in enumerate(event.utterances)
    ]


def test_no_speech_call_has_nulls_not_fake_values(warehouse: Warehouse, writer: SinkWriter, serde) -> None:
    event = example_analysis("CA-silent").model_copy(
        update={"analysis": None, "status": AnalysisStatus.NO_SPEECH, "utterances": []}
    )
    writer.write([decode_analysis(serde.serialize(event))])
    row = warehouse.dicts("SELECT * FROM {db:Identifier}.calls")[0]
    assert row["status"] == "no_speech" and row["has_analysis"] is False
    assert row["satisfaction_score"] is None and row["intent"] == "" and row["key_topics"] == []
    assert _counts(warehouse)["utterances"] == 0


def test_redelivery_and_replay_with_other_batch_boundaries_change_nothing(
    warehouse: Warehouse, writer: SinkWriter, serde
) -> None:
    events = list(synthetic_analyses(600, end=SEED_END, days=3, seed=11))
    payloads = _payloads(serde, events)
    for i in range(0, 600, 250):
        writer.write(payloads[i : i + 250])
    first = _counts(warehouse)
    assert first["calls"] == first["calls_final"] == 600
    assert first["utterances"] == 600 * 4
    assert first["rollup_calls"] == 600
    assert first["rollup_topics"] == sum(len(set(e["analysis"]["key_topics"])) for e in events)
    assert first["rollup_mentions"] == sum(
        m["count"] for e in events for m in e["analysis"]["competitor_mentions"]
    )
    writer.write(payloads[250:500])  # a redelivered batch
    for i in range(0, 600, 77):  # a replay from offset 0 with other boundaries
        writer.write(payloads[i : i + 77])
    assert _counts(warehouse) == first


def test_reanalysis_replaces_and_older_version_is_ignored(
    warehouse: Warehouse, writer: SinkWriter, serde
) -> None:
    old = example_analysis("CA-re", intent="billing_dispute")
    new = example_analysis("CA-re", intent="cancel_service").model_copy(
        update={"analyzed_at": old.analyzed_at + timedelta(hours=1)}
    )
    writer.write([decode_analysis(serde.serialize(old))])
    writer.write([decode_analysis(serde.serialize(new))])
    writer.write([decode_analysis(serde.serialize(old))])  # a late redelivery of the old one
    rows = warehouse.rows("SELECT intent FROM {db:Identifier}.calls FINAL")
    assert rows == [("cancel_service",)]
    current = warehouse.rows(
        "SELECT count() FROM {db:Identifier}.utterances FINAL WHERE analyzed_at = "
        "(SELECT max(analyzed_at) FROM {db:Identifier}.calls)"
    )
    assert current == [(len(new.utterances),)]


def test_duplicate_call_inside_one_batch_keeps_the_newest(
    warehouse: Warehouse, writer: SinkWriter, serde
) -> None:
    base = example_analysis("CA-dup", intent="billing_dispute")
    newer = example_analysis("CA-dup", intent="upgrade_plan").model_copy(
        update={"analyzed_at": base.analyzed_at + timedelta(minutes=5)}
    )
    batch = [decode_analysis(serde.serialize(e)) for e in (newer, base, example_analysis("CA-other"))]
    writer.write(batch)
    assert warehouse.rows("SELECT call_id, intent FROM {db:Identifier}.calls FINAL ORDER BY call_id") == [
        ("CA-dup", "upgrade_plan"),
        ("CA-other", "billing_dispute"),
    ]
    assert _counts(warehouse)["rollup_calls"] == 2


def _stored_rows(wh: Warehouse) -> dict[str, int]:
    """Rows in every table that stores something (not the Null landing tables, not views)."""
    tables = wh.rows(
        "SELECT name FROM system.tables WHERE database = {db:String} "
        "AND engine NOT IN ('Null', 'MaterializedView', 'View') AND name != 'schema_migrations'",
        {"db": wh.database},
    )
    counts = {t: int(wh.rows(f"SELECT count() FROM {{db:Identifier}}.{t}")[0][0]) for (t,) in tables}
    return {t: n for t, n in counts.items() if n}


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("satisfaction_score", 42, "satisfaction_score"),
        ("call_id", "C" * 300, "call_id empty or longer than 256"),
        ("channel", 300, "utterance channel"),
    ],
)
def test_every_contract_violation_writes_nothing_anywhere(
    warehouse: Warehouse, writer: SinkWriter, serde, field: str, value: Any, reason: str
) -> None:
    batch = list(synthetic_analyses(40, end=SEED_END, seed=6))
    bad = batch[17]
    if field == "satisfaction_score":
        bad["analysis"]["satisfaction_score"] = value
    elif field == "call_id":
        bad["call_id"] = value
    else:
        bad["utterances"][-1]["channel"] = value
    for _ in range(3):  # the views race each other: a leak shows on some attempts only
        with pytest.raises(InvalidInputError, match=reason):
            writer.write(_payloads(serde, batch))
        assert _stored_rows(warehouse) == {}


def test_contract_violation_fails_the_batch_as_permanent(
    warehouse: Warehouse, writer: SinkWriter, serde
) -> None:
    good = next(synthetic_analyses(1, end=SEED_END, seed=3))
    bad = next(synthetic_analyses(1, end=SEED_END, seed=4, id_prefix="BAD"))
    bad["analysis"]["satisfaction_score"] = 42
    with pytest.raises(InvalidInputError, match="satisfaction_score"):
        writer.write(_payloads(serde, [good, bad]))
    # The views run in parallel and a failed insert does not undo the others: a refused batch
    # must leave no row in any table (migration 0011), or the dead-lettered call is searchable.
    assert _stored_rows(warehouse) == {}
    # Alone, the good one goes through (what the runner's batch split does).
    writer.write(_payloads(serde, [good]))
    assert _counts(warehouse)["calls_final"] == 1


def test_corrupt_avro_body_is_permanent(warehouse: Warehouse, writer: SinkWriter, serde) -> None:
    good = serde.serialize_dict(next(synthetic_analyses(1, end=SEED_END, seed=5)))
    # Frame and call id intact (so decode passes), body cut short: only ClickHouse can tell.
    truncated = decode_analysis(good[: len(good) // 2])
    with pytest.raises(PermanentError):
        writer.write([truncated])
    assert _counts(warehouse)["calls"] == 0


def test_analyses_in_mirrors_the_avro_contract(warehouse: Warehouse, serde, tmp_path) -> None:
    """analyses_in must match what ClickHouse reads from the current CallAnalyzed schema (enums
    as strings): a model change without a migration fails here, not in production."""
    from callpipe_sink.avro_batch import container_file

    sample = tmp_path / "sample.avro"
    sample.write_bytes(
        container_file(serde.schema, [decode_analysis(serde.serialize(example_analysis())).body])
    )
    inferred = warehouse.rows("DESCRIBE file({path:String}, Avro)", {"path": str(sample)})
    table = warehouse.rows("DESCRIBE TABLE {db:Identifier}.analyses_in")

    def norm(type_: str) -> str:
        type_ = re.sub(r"Enum8\([^)]*\)", "String", type_)
        type_ = type_.replace("DateTime64(6)", "DateTime64(6, 'UTC')")
        return re.sub(r"\s+", " ", type_)

    assert [(n, norm(t)) for n, t, *_ in inferred] == [(n, re.sub(r"\s+", " ", t)) for n, t, *_ in table]


def test_a_warehouse_that_lost_its_tables_is_migrated_again_not_dead_lettered(
    warehouse: Warehouse, writer: SinkWriter, serde: AvroSerde[CallAnalyzed]
) -> None:
    events = list(synthetic_analyses(20, end=SEED_END, days=1, seed=61))
    writer.write(_payloads(serde, events[:10]))
    # A ClickHouse that comes back on a new volume: our database is gone.
    warehouse.command("DROP DATABASE {db:Identifier} SYNC")
    writer.write(_payloads(serde, events[10:]))
    counts = _counts(warehouse)
    assert counts["calls_final"] == counts["calls"] == counts["rollup_calls"] == 10
    stored = {row[0] for row in warehouse.rows("SELECT call_id FROM {db:Identifier}.calls")}
    assert stored == {e["call_id"] for e in events[10:]}


def _v1_message(registry: LocalSchemaRegistry, event: CallAnalyzed) -> bytes:
    """The event as an analyzer from before churn_risk wrote it (CallAnalyzed v1, schema id 3)."""
    v1_id = 3
    schema = registry.schema_for(v1_id)
    record = event.model_dump(mode="python")
    assert record["analysis"] is not None
    del record["analysis"]["churn_risk"]
    buf = io.BytesIO()
    buf.write(struct.pack(">bI", 0, v1_id))
    schemaless_writer(buf, parse_schema(schema), record)
    return buf.getvalue()


class _NoRollupCorrection:
    """The sink before migration 0008 (rollup corrections) had nothing to correct."""

    def correct(self) -> None:
        return None


def test_churn_risk_migration_keeps_old_calls_and_reads_both_writers(
    chdb_client: Any, registry: LocalSchemaRegistry, serde: AvroSerde[CallAnalyzed]
) -> None:
    """A warehouse created before 0005 with a call in it: after 0005 the stored call reads churn ''
    (never assessed), a v1 writer's message still lands (with the contract's default, low), and a
    v2 one stores churn_risk and rolls it up."""
    wh = Warehouse(chdb_client, f"t_{uuid.uuid4().hex[:12]}", embedded=True)
    try:
        migrations = load_migrations()
        churn = next(m for m in migrations if m.name == "churn_risk")
        apply_migrations(wh, [m for m in migrations if m.version < churn.version])
        writer = SinkWriter(wh, SchemaResolver(registry))
        high = example_analysis("CA-v2")
        assert high.analysis is not None
        high = high.model_copy(
            update={"analysis": high.analysis.model_copy(update={"churn_risk": ChurnRisk.HIGH})}
        )
        # The sink as it was before churn_risk: its tables and schema were v1.
        old_sink = SinkWriter(wh, SchemaResolver(registry), WriterSchemaUpgrade(registry.schema_for(3)))
        old_sink._rollups = _NoRollupCorrection()  # type: ignore[assignment]  # it predates 0008
        old_sink.write([decode_analysis(_v1_message(registry, example_analysis("CA-before")))])
        # The upgrade applies churn_risk and every migration after it (call events, erasure).
        assert apply_migrations(wh) == [m.version for m in migrations if m.version >= churn.version]
        writer.write([decode_analysis(_v1_message(registry, example_analysis("CA-v1")))])
        writer.write([decode_analysis(serde.serialize(high))])
        rows = wh.rows(
            "SELECT call_id, churn_risk, escalation_risk FROM {db:Identifier}.calls FINAL ORDER BY call_id"
        )
        assert rows == [("CA-before", "", "medium"), ("CA-v1", "low", "medium"), ("CA-v2", "high", "medium")]
        churns = wh.rows("SELECT countIfMerge(churns), countMerge(calls) FROM {db:Identifier}.calls_hourly")
        assert churns == [(1, 3)]
        by_agent = wh.rows("SELECT countIfMerge(churns) FROM {db:Identifier}.agents_hourly")
        assert by_agent == [(1,)]
        assert apply_migrations(wh) == []  # applied once
    finally:
        wh.command("DROP DATABASE IF EXISTS {db:Identifier} SYNC")
