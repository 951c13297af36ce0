"""The labels the offline rules act on come from the configuration, checked against the taxonomy."""

from __future__ import annotations

import pytest

from callpipe_analyzer.config import AnalysisConfig, load_config


def test_the_bundled_configuration_names_its_inquiry_and_departure_intents() -> None:
    config = load_config()
    assert config.inquiry_intent == "general_inquiry"
    assert config.churn.intents == ["cancellation"]


def test_an_inquiry_intent_the_taxonomy_lacks_turns_the_rule_off_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    raw = load_config().model_dump(mode="json")
    raw["intents"].pop("general_inquiry")
    config = AnalysisConfig.model_validate(raw)
    assert config.inquiry_intent is None
    assert "inquiry_intent" in caplog.text
    assert "general_inquiry" in str([r.__dict__.get("unknown") for r in caplog.records])


def test_an_own_taxonomy_names_its_own_inquiry_intent() -> None:
    raw = load_config().model_dump(mode="json")
    raw["intents"]["questions"] = raw["intents"].pop("general_inquiry")
    raw["inquiry_intent"] = "questions"
    assert AnalysisConfig.model_validate(raw).inquiry_intent == "questions"


def test_without_the_key_the_inquiry_rule_is_off() -> None:
    raw = load_config().model_dump(mode="json")
    del raw["inquiry_intent"]
    assert AnalysisConfig.model_validate(raw).inquiry_intent is None
