"""A call center's own analysis.yaml with the offline analyzer: it works at once (zero-shot for
what the shipped models were not fitted on), and `train --config` fits models for it."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
import yaml

from callpipe.errors import InvalidInputError
from callpipe.models import Role
from callpipe_analyzer.config import DEFAULT_CONFIG_PATH, load_config
from callpipe_analyzer.offline.analyzer import OfflineAnalyzer
from callpipe_analyzer.offline.supervised import SupervisedModels
from callpipe_analyzer.ports import AnalysisRequest
from callpipe_analyzer.settings import AnalyzerSettings
from callpipe_analyzer.wiring import build_analyzer
from callpipe_tools.training import offline_analyzer as train
from tests.unit.analyzer.offline_calls import analysis_request

# Written for these tests: three intents of a smaller taxonomy.
OWN_INTENTS: dict[str, Any] = {
    "roaming_help": {
        "description": "The caller asks how to use the phone abroad or about roaming charges.",
        "examples": ["Will my phone work in Spain?", "How much is roaming in Canada?"],
        "keywords": ["roaming", "abroad"],
    },
    "outage_report": {
        "description": "The caller reports that internet, TV or phone service is down.",
        "examples": ["My internet is down.", "The TV has no signal since this morning."],
        "keywords": ["down", "no signal"],
    },
    "bill_question": {
        "description": "The caller asks about an amount or a charge on the bill.",
        "examples": ["Why is my bill higher this month?", "What is this charge on my bill?"],
        "keywords": ["bill", "charge"],
    },
}
# intent -> (caller's request, caller's last words, caller sentiment)
CALLS: dict[str, list[tuple[str, str, str]]] = {
    "roaming_help": [
        (
            "I'm flying to Portugal next week, will my phone just work there?",
            "Great, thank you so much!",
            "positive",
        ),
        ("How much do you charge for data when I'm in Mexico?", "Okay, thanks.", "neutral"),
        (
            "Last trip abroad I got a huge roaming bill, I don't want that again.",
            "Fine. We'll see.",
            "negative",
        ),
        ("Do I need to turn something on to use my phone in Japan?", "Perfect, that's all.", "neutral"),
    ],
    "outage_report": [
        (
            "My internet has been down since last night and I work from home.",
            "Fine. I'm not happy.",
            "negative",
        ),
        ("The TV says no signal on every channel.", "Okay, thanks.", "neutral"),
        (
            "The internet keeps dropping, this is the third time this week.",
            "Whatever, just fix it.",
            "negative",
        ),
        ("Our phone line is dead, there's no dial tone.", "Oh wonderful, thank you!", "positive"),
    ],
    "bill_question": [
        (
            "Why is my bill twenty dollars higher this month?",
            "Ah, that makes sense, thanks so much!",
            "positive",
        ),
        ("There's a charge on my bill I don't recognize.", "Okay.", "neutral"),
        ("I was charged for a movie I never ordered, again.", "Ridiculous. Fine.", "negative"),
        ("Can you explain the equipment fee on my bill?", "Alright, thanks.", "neutral"),
    ],
}


@pytest.fixture
def shared(offline: OfflineAnalyzer) -> dict[str, Any]:
    # The session analyzer's encoder and spaCy pipeline for every analyzer here (loading takes seconds).
    return {"encoder": offline.encoder, "nlp": offline.nlp}


def _write_config(path: Path, **changes: Any) -> Path:
    raw = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    raw.update(changes)
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def _request(caller_first: str, caller_last: str) -> AnalysisRequest:
    return analysis_request(
        [
            (Role.AGENT, "Thanks for calling Acme, this is Sam."),
            (Role.CALLER, caller_first),
            (Role.AGENT, "Let me look into that for you."),
            (Role.CALLER, caller_last),
        ],
        call_id="CA-own",
    )


def test_an_own_taxonomy_runs_zero_shot_with_the_shipped_sentiment_model(
    tmp_path: Path, shared: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    config = load_config(_write_config(tmp_path / "analysis.yaml", intents=OWN_INTENTS))
    with caplog.at_level(logging.WARNING, logger="callpipe.analyzer.offline"):
        analyzer = OfflineAnalyzer(config, **shared)
    assert "fitted on other intents" in caplog.text
    assert "+sup." in analyzer.prompt_version  # the sentiment models still apply
    analysis = analyzer.analyze_sync(_request("I'm going to Italy, does roaming cost extra?", "Okay."))
    assert analysis.intent == "roaming_help"


def test_other_sentiment_examples_put_sentiment_back_on_rules(
    tmp_path: Path, shared: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    raw = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    examples = raw["sentiment_examples"]
    examples["negative"] = [*examples["negative"], "You people never listen."]
    config = load_config(_write_config(tmp_path / "analysis.yaml", sentiment_examples=examples))
    with caplog.at_level(logging.WARNING, logger="callpipe.analyzer.offline"):
        analyzer = OfflineAnalyzer(config, **shared)
    assert "other sentiment_examples" in caplog.text
    assert "other intents" not in caplog.text
    assert "+sup." in analyzer.prompt_version  # the intent model still applies


def test_train_fits_models_for_an_own_taxonomy(tmp_path: Path, shared: dict[str, Any]) -> None:
    config_path = _write_config(tmp_path / "analysis.yaml", intents=OWN_INTENTS)
    calls = [
        {
            "id": f"own-{intent}-{i}",
            "split": "dev",
            "labels": {"intent": intent, "caller_sentiment": mood, "agent_sentiment": "positive"},
            "turns": [
                ["agent", "Thanks for calling Acme, this is Sam."],
                ["caller", first],
                ["agent", "Let me look into that for you."],
                ["caller", last],
            ],
        }
        for intent, rows in CALLS.items()
        for i, (first, last, mood) in enumerate(rows)
    ]
    dataset = tmp_path / "calls.yaml"
    dataset.write_text(yaml.safe_dump(calls))
    output = tmp_path / "model.json"

    assert train.main(["--dataset", str(dataset), "--config", str(config_path), "--output", str(output)]) == 0
    models = SupervisedModels.load(output)
    assert models is not None
    assert models.intent.labels == list(OWN_INTENTS)
    assert "calls=12" in models.trained_on
    analyzer = OfflineAnalyzer(load_config(config_path), models=models, **shared)
    assert analyzer.prompt_version.endswith(f"+sup.{models.fingerprint}")
    analysis = analyzer.analyze_sync(_request("The internet is down again, nothing loads.", "Fine."))
    assert analysis.intent == "outage_report"


def test_a_missing_model_path_is_a_clear_start_up_error(tmp_path: Path) -> None:
    settings = AnalyzerSettings(offline_model_path=tmp_path / "nope.json")
    with pytest.raises(InvalidInputError, match="ANALYZER_OFFLINE_MODEL_PATH"):
        build_analyzer(settings)
