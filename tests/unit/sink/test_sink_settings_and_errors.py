"""Settings validation, error translation and an unreachable server (no server needed)."""

from __future__ import annotations

import socket

import pytest
from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError
from pydantic import SecretStr, ValidationError

from callpipe.errors import DependencyUnavailableError, InvalidInputError, TransientError
from callpipe_sink.settings import InsightsSettings, WarehouseSettings
from callpipe_sink.warehouse import SchemaMissingError, open_warehouse, translate_error


def test_insights_refuses_to_serve_without_a_token() -> None:
    with pytest.raises(ValidationError, match="INSIGHTS_TOKEN is required"):
        InsightsSettings()
    with pytest.raises(ValidationError, match="at least 16"):
        InsightsSettings(token=SecretStr("short"))
    assert InsightsSettings(allow_no_token=True).token is None
    settings = InsightsSettings(token=SecretStr("s3cret-s3cret-s3cret"))
    assert "s3cret" not in repr(settings)


def test_database_must_be_a_plain_identifier() -> None:
    assert WarehouseSettings(database="calls_2026").database == "calls_2026"
    for bad in ("x; DROP TABLE calls", "1abc", "a-b", ""):
        with pytest.raises(ValidationError, match="identifier"):
            WarehouseSettings(database=bad)
    assert WarehouseSettings().embedded and not WarehouseSettings(url="http://127.0.0.1:8123").embedded


def _db_error(code: int) -> DatabaseError:
    exc = DatabaseError(f"Code: {code}. DB::Exception: something")
    exc.code = code
    return exc


def test_error_classes_decide_retry_or_dead_letter() -> None:
    assert isinstance(translate_error(OperationalError("refused"), "insert"), DependencyUnavailableError)
    assert isinstance(translate_error(ConnectionResetError(), "insert"), DependencyUnavailableError)
    assert isinstance(translate_error(_db_error(395), "insert"), InvalidInputError)  # throwIf
    assert isinstance(translate_error(_db_error(117), "insert"), InvalidInputError)  # bad Avro
    assert isinstance(translate_error(_db_error(241), "insert"), DependencyUnavailableError)  # memory
    assert isinstance(translate_error(_db_error(999), "insert"), TransientError)
    avro = DatabaseError("Code: 1001. type: avro::Exception, e.what() = EOF reached")
    avro.code = 1001
    assert isinstance(translate_error(avro, "insert"), InvalidInputError)


def test_unreachable_server_is_dependency_unavailable() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = WarehouseSettings(url=f"http://127.0.0.1:{port}", connect_timeout_s=1, query_timeout_s=1)
    with pytest.raises(DependencyUnavailableError, match="unreachable"):
        open_warehouse(settings)


def test_missing_tables_pause_instead_of_dead_lettering() -> None:
    for code in (60, 81):  # UNKNOWN_TABLE, UNKNOWN_DATABASE
        error = translate_error(_db_error(code), "insert")
        assert isinstance(error, SchemaMissingError) and isinstance(error, DependencyUnavailableError)
