"""Migration files: naming, order, statements, and that no database name is spliced in."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from callpipe.errors import InvalidInputError
from callpipe_sink.warehouse import MIGRATIONS_DIR, load_migrations


def test_migrations_are_ordered_and_every_table_is_bound_as_identifier() -> None:
    migrations = load_migrations()
    assert [m.version for m in migrations] == sorted(m.version for m in migrations)
    assert migrations[0].version == 1
    for migration in migrations:
        for statement in migration.statements():
            # Later migrations change what exists: ALTER … IF [NOT] EXISTS, DROP VIEW IF EXISTS
            # before a view is created again with new columns.
            upper = statement.upper()
            assert upper.startswith(("CREATE ", "ALTER TABLE ", "DROP VIEW ")), statement[:60]
            assert "IF NOT EXISTS" in upper or "IF EXISTS" in upper, "every statement must be idempotent"
            # Every table reference is {db:Identifier}.name: no hard-coded database.
            refs = re.findall(r"(?:TABLE|VIEW|EXISTS|\bTO|FROM|(?<!ARRAY )JOIN)\s+([\w{}:.]+)", statement)
            for ref in refs:
                if "." in ref:
                    assert ref.startswith("{db:Identifier}."), (migration.name, ref)


def test_expected_objects_exist_in_the_migrations() -> None:
    text = "\n".join(m.sql for m in load_migrations())
    for name in (
        "calls",
        "utterances",
        "analyses_in",
        "call_versions",
        "calls_hourly",
        "agents_hourly",
        "topics_hourly",
        "competitors_hourly",
    ):
        assert f"{{db:Identifier}}.{name}\n" in text or f"{{db:Identifier}}.{name} " in text, name
    assert "ReplacingMergeTree(analyzed_at)" in text
    assert "AggregatingMergeTree" in text and "tokenbf_v1" in text


def test_bad_file_names_and_duplicate_versions_are_refused(tmp_path: Path) -> None:
    (tmp_path / "0001_ok.sql").write_text(
        "CREATE TABLE IF NOT EXISTS {db:Identifier}.a (x UInt8) ENGINE = Log"
    )
    assert [m.name for m in load_migrations(tmp_path)] == ["ok"]
    (tmp_path / "0001_again.sql").write_text("SELECT 1")
    with pytest.raises(InvalidInputError, match="duplicate"):
        load_migrations(tmp_path)
    (tmp_path / "0001_again.sql").unlink()
    (tmp_path / "2_bad.sql").write_text("SELECT 1")
    with pytest.raises(InvalidInputError, match="NNNN_name"):
        load_migrations(tmp_path)


def test_comments_are_dropped_and_statements_split() -> None:
    migration = next(m for m in load_migrations(MIGRATIONS_DIR) if m.version == 3)
    statements = migration.statements()
    assert len(statements) == 7
    assert not any(line.lstrip().startswith("--") for s in statements for line in s.splitlines())
