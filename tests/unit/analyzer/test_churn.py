"""Churn risk from the configured cues (offline/churn.py), without the models."""

from __future__ import annotations

import pytest

from callpipe.models import ChurnRisk
from callpipe_analyzer.config import AnalysisConfig, ChurnCues, load_config
from callpipe_analyzer.offline.churn import ChurnDetector


@pytest.fixture(scope="module")
def detector() -> ChurnDetector:
    return ChurnDetector(load_config().churn)


@pytest.mark.parametrize(
    ("intent", "caller", "competitor", "want"),
    [
        # The departure intent is churn, calm or not.
        ("cancellation", ["Please close it on the thirtieth, thanks."], False, ChurnRisk.HIGH),
        # Announced, in another intent's call.
        ("billing_dispute", ["Fix this bill or I\u2019m cancelling."], False, ChurnRisk.HIGH),
        # Weighing it.
        ("billing_dispute", ["Honestly I'm thinking about switching."], False, ChurnRisk.MEDIUM),
        # A competitor named, nothing else: no churn by itself.
        (
            "upgrade_purchase",
            ["My son is on Google Fi, I'd rather have him on my account."],
            True,
            ChurnRisk.LOW,
        ),
        # Weighing it with a concrete competitor offer.
        ("billing_dispute", ["Verizon offered me fifty a month."], True, ChurnRisk.HIGH),
        # Negated or unrelated: no cue.
        ("billing_dispute", ["I don't want to cancel, I just want the fee removed."], False, ChurnRisk.LOW),
        ("tech_support", ["The cancel button on the remote is stuck."], False, ChurnRisk.LOW),
    ],
)
def test_churn_levels(
    detector: ChurnDetector, intent: str, caller: list[str], competitor: bool, want: ChurnRisk
) -> None:
    assert detector.risk(intent, caller, competitor) is want


def test_phrases_come_from_the_configuration() -> None:
    own = ChurnDetector(ChurnCues(intents=[], high=["take my business elsewhere"], medium=[]))
    assert own.risk("anything", ["I will take my business elsewhere."], False) is ChurnRisk.HIGH
    # Without the bundled phrases, the bundled wording is no cue.
    assert own.risk("cancellation", ["I want to cancel my service."], False) is ChurnRisk.LOW


def test_churn_intents_missing_from_an_own_taxonomy_are_dropped_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    raw = load_config().model_dump(mode="json")
    raw["churn"]["intents"] = ["cancellation", "leave_us"]
    config = AnalysisConfig.model_validate(raw)
    assert config.churn.intents == ["cancellation"]
    assert "leave_us" in str([r.__dict__.get("unknown") for r in caplog.records])
