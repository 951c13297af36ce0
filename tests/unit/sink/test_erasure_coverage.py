"""Every table a migration creates that holds call ids is one the erasure clears.

The no-trace integration test scans the tables for one seeded call; this catches a table added
later (a column named ``call_id`` or ``*_call_ids``) before anyone has to remember to seed it.
"""

from __future__ import annotations

import re

from callpipe_sink.lifecycle.erasure import CALL_ID_LIST_COLUMNS, PER_CALL_TABLES
from callpipe_sink.warehouse import load_migrations

_CREATE = re.compile(
    r"^CREATE TABLE IF NOT EXISTS \{db:Identifier\}\.(\w+)\s*\(([\s\S]*)\)\s*ENGINE\s*=\s*(\w+)", re.I
)
_ADD_COLUMN = re.compile(r"^ALTER TABLE \{db:Identifier\}\.(\w+)\s+([\s\S]*)$", re.I)
_CALL_ID_COLUMN = re.compile(r"(?:^|,|ADD COLUMN IF NOT EXISTS)\s*(\w*call_ids?)\s+(\w+)", re.I)
# Tables that hold call ids only as hashes (no call id, number or text): the audit trail and the
# tombstones, kept on purpose (lifecycle/erasure.py, retention KEPT_TABLES).
_HASHED_ONLY = {"erased_calls", "erasures"}


def _call_id_columns() -> dict[str, set[str]]:
    """Table → its columns named like a call id, over every migration (created or added later)."""
    found: dict[str, set[str]] = {}
    for migration in load_migrations():
        for statement in migration.statements():
            if (create := _CREATE.match(statement)) is not None:
                table, body, engine = create.groups()
                if engine.lower() == "null":  # a landing table stores nothing
                    continue
            elif (alter := _ADD_COLUMN.match(statement)) is not None:
                table, body = alter.groups()
            else:
                continue
            for column, _type in _CALL_ID_COLUMN.findall(body):
                found.setdefault(table, set()).add(column)
    return found


def test_the_parser_sees_the_tables_that_hold_call_ids() -> None:
    columns = _call_id_columns()
    assert columns["calls"] == {"call_id"}
    assert columns["alerts"] == {"sample_call_ids"}
    assert "analyses_in" not in columns  # Null engine
    assert "erasures" not in columns  # call_hashes, not ids


def test_every_table_holding_call_ids_is_erased() -> None:
    columns = _call_id_columns()
    covered = {t: {"call_id"} for t in PER_CALL_TABLES} | {t: {c} for t, c in CALL_ID_LIST_COLUMNS.items()}
    uncovered = {
        table: cols - covered.get(table, set())
        for table, cols in columns.items()
        if table not in _HASHED_ONLY and cols - covered.get(table, set())
    }
    assert uncovered == {}, "add these to PER_CALL_TABLES or CALL_ID_LIST_COLUMNS in lifecycle/erasure.py"
