"""Categories and QA scorecards: each rule kind, windows, all/any/not, evidence, the starter set
of analysis.yaml, scoring, and the stage putting both on CallAnalyzed for any engine."""

from __future__ import annotations

from typing import Any

import pytest

from callpipe.models import CallAnalysis, CustomAnswer, EscalationRisk, Role, SentimentLabel, Utterance
from callpipe_analyzer.categories import CallView, evaluate_categories, phrase_hits, stem
from callpipe_analyzer.config import CategorySpec, PhraseMatch, ScorecardForm, load_config
from callpipe_analyzer.metrics import compute_metrics
from callpipe_analyzer.ports import AnalyzerPorts
from callpipe_analyzer.quality import QualityRules, longest_gap_s
from callpipe_analyzer.redaction import Redactor
from callpipe_analyzer.scorecards import score_form
from callpipe_analyzer.sentiment import SentimentScorer
from callpipe_analyzer.stage import analyze
from callpipe_tools.examples import example_transcript
from tests.unit.analyzer.test_stage_metrics import Recording


def U(role: Role, start: float, end: float, text: str) -> Utterance:
    return Utterance(role=role, speaker=role.value, start_s=start, end_s=end, text=text)


def _analysis(**kw: Any) -> CallAnalysis:
    base: dict[str, Any] = {
        "summary": "s",
        "sentiment": SentimentLabel.NEGATIVE,
        "sentiment_score": -0.5,
        "intent": "cancellation",
        "satisfaction_score": 3,
        "escalation_risk": EscalationRisk.HIGH,
    }
    return CallAnalysis(**{**base, **kw})


def view(
    utts: list[Utterance],
    sentiments: list[float] | None = None,
    analysis: CallAnalysis | None = None,
    duration: float | None = None,
) -> CallView:
    sents = sentiments if sentiments is not None else [0.0] * len(utts)
    d = duration if duration is not None else max(u.end_s for u in utts)
    return CallView(utts, sents, compute_metrics(utts, d, sents), analysis)


def cats(rules: dict[str, Any], call: CallView) -> dict[str, Any]:
    specs = {k: CategorySpec.model_validate({"description": k, "rule": v}) for k, v in rules.items()}
    return {m.name: m for m in evaluate_categories(specs, call)}


def test_stemming_and_fuzzy_phrases() -> None:
    assert stem("recorded") == stem("recording") == stem("records") == "record"
    assert stem("cancelling") == stem("cancelled") == stem("cancel")
    assert phrase_hits("this call is being recordid", ["call is being recorded"], PhraseMatch.FUZZY)
    assert phrase_hits("I'll cancel the whole account", ["cancel my account"], PhraseMatch.FUZZY) is None
    assert (
        phrase_hits("cancel my whole account", ["cancel my account"], PhraseMatch.FUZZY)
        == "cancel my account"
    )
    # exact needs the words in order, on word boundaries
    assert phrase_hits("I want to cancel my plan", ["cancel my"], PhraseMatch.EXACT) == "cancel my"
    assert phrase_hits("I want to cancelled my plan", ["cancel my"], PhraseMatch.EXACT) is None
    assert phrase_hits("hi", ["hi"], PhraseMatch.FUZZY) and not phrase_hits("his", ["hi"], PhraseMatch.FUZZY)


def test_phrase_by_speaker_in_windows_with_evidence() -> None:
    utts = [
        U(Role.AGENT, 0, 4, "Hello, this call may be recorded."),
        U(Role.CALLER, 5, 9, "I want to speak to a supervisor."),
        U(Role.AGENT, 40, 44, "This call may be recorded for quality."),
    ]
    call = view(utts, duration=60)
    found = cats(
        {
            "agent_disclosed_early": {
                "phrase": {"speaker": "agent", "phrases": ["call may be recorded"], "window": {"first_s": 30}}
            },
            "caller_disclosed": {"phrase": {"speaker": "caller", "phrases": ["call may be recorded"]}},
            "late_disclosure": {
                "phrase": {"speaker": "agent", "phrases": ["recorded"], "window": {"last_pct": 50}}
            },
            "supervisor": {"phrase": {"speaker": "caller", "phrases": ["speak to a supervisor"]}},
        },
        call,
    )
    assert set(found) == {"agent_disclosed_early", "late_disclosure", "supervisor"}
    ev = found["late_disclosure"].evidence
    assert [e.utterance_index for e in ev] == [2] and ev[0].start_s == 40
    assert found["supervisor"].evidence[0].text == "I want to speak to a supervisor."


def test_not_all_any_and_absence_evidence() -> None:
    utts = [U(Role.AGENT, 0, 5, "Acme, how can I help?"), U(Role.CALLER, 6, 9, "cancel my service")]
    call = view(utts, analysis=_analysis(), duration=120)
    missing = {
        "not": {"phrase": {"speaker": "agent", "phrases": ["may be recorded"], "window": {"first_s": 30}}}
    }
    found = cats(
        {
            "missing": missing,
            "both": {"all": [missing, {"field": {"name": "intent", "in": ["cancellation"]}}]},
            "either": {
                "any": [
                    {"field": {"name": "churn_risk", "in": ["high"]}},
                    {"field": {"name": "satisfaction_score", "below": 4}},
                ]
            },
            "neither": {
                "any": [
                    {"field": {"name": "churn_risk", "in": ["high"]}},
                    {"field": {"name": "satisfaction_score", "above": 4}},
                ]
            },
        },
        call,
    )
    assert set(found) == {"missing", "both", "either"}
    absent = found["missing"].evidence[0]
    assert absent.utterance_index is None and (absent.start_s, absent.end_s) == (0.0, 30.0)
    assert "not found" in absent.text
    assert {e.text for e in found["both"].evidence} >= {"intent = cancellation"}


def test_silence_interruptions_sentiment_talk_share() -> None:
    utts = [
        U(Role.AGENT, 0, 10, "let me explain the whole thing to you"),
        U(Role.CALLER, 11, 13, "but"),
        U(Role.AGENT, 12, 20, "no wait let me finish"),  # starts while the caller speaks: interruption
        U(Role.CALLER, 45, 50, "this is terrible"),  # 25 s of silence before
    ]
    call = view(utts, sentiments=[0.2, 0.0, 0.0, -0.8])
    found = cats(
        {
            "hold": {"silence": {"min_s": 20}},
            "hold_early": {"silence": {"min_s": 20, "window": {"first_s": 15}}},
            "talk_over": {"interruptions": {"by": "agent", "min": 1}},
            "talk_over_3": {"interruptions": {"by": "agent", "min": 3}},
            "angry_end": {"sentiment": {"speaker": "caller", "at": "end", "below": -0.5}},
            "angry_overall": {"sentiment": {"speaker": "caller", "below": -0.5}},
            "agent_dominates": {"talk_share": {"speaker": "agent", "above": 0.3}},
        },
        call,
    )
    assert set(found) == {"hold", "talk_over", "angry_end", "agent_dominates"}
    gap = found["hold"].evidence[0]
    assert (gap.start_s, gap.end_s, gap.utterance_index) == (20, 45, 3)
    assert found["talk_over"].evidence[0].utterance_index == 2
    assert longest_gap_s(utts) == pytest.approx(25)


def test_bad_rules_are_refused() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        CategorySpec.model_validate(
            {"description": "x", "rule": {"phrase": {"phrases": ["a"]}, "silence": {"min_s": 3}}}
        )
    with pytest.raises(ValueError, match="exactly one"):
        CategorySpec.model_validate(
            {
                "description": "x",
                "rule": {"phrase": {"phrases": ["a"], "window": {"first_s": 3, "last_s": 4}}},
            }
        )
    with pytest.raises(ValueError, match="pattern"):
        CategorySpec.model_validate({"description": "x", "rule": {"field": {"name": "summary", "in": ["a"]}}})


STARTER_CALL = [
    U(Role.AGENT, 0, 4, "Thanks for calling Acme, this is Dana."),
    U(Role.CALLER, 5, 12, "I've been overcharged again and I'm going to cancel my account."),
    U(Role.AGENT, 13, 17, "I'm sorry, let me look."),
    U(Role.CALLER, 18, 22, "No, I want to talk to your manager right now."),
]


def test_starter_set_of_the_bundled_configuration() -> None:
    config = load_config()
    assert set(config.categories) == {
        "recording_disclosure_missing",
        "no_greeting",
        "supervisor_requested",
        "cancellation_threat",
        "long_silence",
        "agent_talked_over_caller",
    }
    found = {m.name for m in evaluate_categories(config.categories, view(STARTER_CALL))}
    assert found == {"recording_disclosure_missing", "supervisor_requested", "cancellation_threat"}
    polite = [
        U(Role.AGENT, 0, 6, "Good morning, you've reached Acme. This call may be recorded for quality."),
        U(Role.CALLER, 7, 9, "Hi, I need to pay my bill."),
    ]
    assert evaluate_categories(config.categories, view(polite)) == []


def test_scorecard_weights_critical_and_not_applicable() -> None:
    form = ScorecardForm.model_validate(
        {
            "id": "f",
            "name": "F",
            "questions": [
                {"id": "greet", "text": "t", "weight": 2, "category": {"category": "no_greeting"}},
                {
                    "id": "ident",
                    "text": "t",
                    "weight": 1,
                    "question": {"custom_question": "verified_identity"},
                },
                {
                    "id": "balance",
                    "text": "t",
                    "weight": 1,
                    "metric": {"metric": "agent_talk_share", "max": 0.5},
                },
                {
                    "id": "llm_only",
                    "text": "t",
                    "weight": 5,
                    "question": {"custom_question": "resolved", "llm": True},
                },
            ],
        }
    )
    call = view(STARTER_CALL)
    analysis = _analysis(custom_answers=[CustomAnswer(question_id="verified_identity", answer="no")])
    card = score_form(form, [], call.metrics, analysis, longest_silence_s=0.0, engine="offline")
    by_id = {a.question_id: a for a in card.answers}
    assert by_id["greet"].passed is True and by_id["ident"].passed is False
    assert by_id["balance"].passed is True and "agent_talk_share" in by_id["balance"].reason
    assert by_id["llm_only"].passed is None and "LLM" in by_id["llm_only"].reason
    assert card.score == pytest.approx(100 * 3 / 4)
    critical = form.model_copy(
        update={"questions": [form.questions[0], form.questions[1].model_copy(update={"critical": True})]}
    )
    assert (
        score_form(critical, [], call.metrics, analysis, longest_silence_s=0.0, engine="offline").score == 0.0
    )
    assert (
        score_form(form, [], call.metrics, None, longest_silence_s=0.0, engine="offline").answers[1].passed
        is None
    )


def test_scorecards_referring_to_unknown_things_are_refused(tmp_path: Any) -> None:
    import yaml

    from callpipe.errors import InvalidInputError
    from callpipe_analyzer.config import DEFAULT_CONFIG_PATH

    raw = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text(encoding="utf-8"))
    raw["scorecards"][0]["questions"][0]["category"]["category"] = "nope"
    path = tmp_path / "a.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(InvalidInputError, match="unknown category"):
        load_config(path)


async def test_stage_puts_categories_and_scorecards_on_the_analysis() -> None:
    event = example_transcript().model_copy(update={"utterances": STARTER_CALL})
    config = load_config()
    ports = AnalyzerPorts(
        analyzer=Recording(),
        redactor=Redactor(),
        sentiment=SentimentScorer(),
        quality=QualityRules.from_config(config),
    )
    out = await analyze(event, ports)
    names = [c.name for c in out.categories]
    assert "supervisor_requested" in names and "cancellation_threat" in names
    supervisor = next(c for c in out.categories if c.name == "supervisor_requested")
    assert supervisor.evidence[0].utterance_index == 3
    assert out.utterances[3].text == STARTER_CALL[3].text
    (card,) = out.scorecards
    assert card.form == "standard_qa" and card.score == 0.0  # the disclosure is critical
    # nothing said: nothing to categorize or score
    silent = await analyze(event.model_copy(update={"utterances": []}), ports)
    assert silent.categories == [] and silent.scorecards == []
