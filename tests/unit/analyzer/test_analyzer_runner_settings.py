"""The analyzer's runner defaults are declared per engine (what the configuration table in
docs/configuration.md shows), and the OpenAI convention's key variable is read through the
settings, not patched in by hand."""

from __future__ import annotations

import pytest

from callpipe.settings import RunnerSettings
from callpipe_analyzer.settings import AnalyzerSettings, LLMSettings, runner_settings_for
from callpipe_cli.configdoc import render_markdown


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RUNNER_MAX_IN_FLIGHT", "ANALYZER_LLM_API_KEY", "OPENAI_API_KEY", "ANALYZER_ENGINE"):
        monkeypatch.delenv(name, raising=False)


def test_each_engine_declares_its_own_in_flight_default() -> None:
    assert runner_settings_for("offline")().max_in_flight == 1
    assert runner_settings_for("llm")().max_in_flight == 32
    # Everything else is the shared runner's default.
    assert runner_settings_for("llm")().max_attempts == RunnerSettings().max_attempts


def test_an_operator_value_wins_over_the_engine_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNNER_MAX_IN_FLIGHT", "5")
    assert runner_settings_for("offline")().max_in_flight == 5
    assert runner_settings_for("llm")().max_in_flight == 5


def _section(table: str, title: str) -> str:
    """The rows of the section whose bold title starts with ``title``."""
    return table.split(f"**{title}", 1)[1].split("\n**", 1)[0]


def test_the_readme_table_documents_the_engine_defaults() -> None:
    table = render_markdown()
    assert "| `RUNNER_MAX_IN_FLIGHT` | `1` |" in _section(table, "Analyzer, offline engine")
    assert "| `RUNNER_MAX_IN_FLIGHT` | `32` |" in _section(table, "Analyzer, LLM engine")


def test_openai_api_key_is_read_when_the_analyzer_key_is_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai")
    settings = AnalyzerSettings()
    assert settings.llm.api_key is not None
    assert settings.llm.api_key.get_secret_value() == "sk-openai"


def test_the_analyzer_key_wins_over_openai_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai")
    monkeypatch.setenv("ANALYZER_LLM_API_KEY", "sk-analyzer")
    key = LLMSettings().api_key
    assert key is not None and key.get_secret_value() == "sk-analyzer"
    # Code and tests still pass the key by its field name.
    passed = LLMSettings(api_key="sk-given").api_key
    assert passed is not None and passed.get_secret_value() == "sk-given"
