"""The alert logic without Kafka: windows in event time, spike vs baseline, rates, agent drops,
dedup on replay and cooldown, and facts read defensively (categories in either shape or absent)."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from callpipe_alerts.config import AgentDropRule, AlertsConfig, default_config_path, load_config
from callpipe_alerts.engine import AlertEngine, new_state
from callpipe_alerts.facts import CallFacts, extract_facts
from callpipe_tools.examples import example_analysis

T0 = datetime(2026, 11, 2, 0, 0, tzinfo=UTC).timestamp()


def _config(**rule: object) -> AlertsConfig:
    return AlertsConfig.model_validate(
        {"window_s": 900, "lateness_s": 60, "samples_per_alert": 3, "rules": [rule]}
    )


SPIKE = {
    "name": "intent_spike",
    "kind": "spike",
    "dimension": "intent",
    "factor": 3.0,
    "min_increase": 10,
    "min_count": 15,
    "baseline_windows": 8,
    "min_baseline_windows": 4,
    "cooldown_s": 3600,
}


def _facts(n: int, ts: float, **kw: object) -> CallFacts:
    values: dict[str, object] = {
        "call_id": f"c{n}",
        "event_ts": ts,
        "agent": kw.get("agent", "a1"),
        "dimensions": kw.get("dimensions", {"intent": ["billing"]}),
        "fields": kw.get("fields", {}),
        "metrics": kw.get("metrics", {}),
        "source": (0, n),
    }
    return CallFacts(**values)  # type: ignore[arg-type]


def _stream_facts(
    windows: int, per_window: int, spike_window: int | set[int] | None, spike_calls: int = 40, start: int = 0
) -> list[CallFacts]:
    """``per_window`` billing calls in every window, plus ``spike_calls`` cancel calls in one window."""
    stream = []
    n = start
    for w in range(windows):
        calls = [{"intent": ["billing"]}] * per_window + [{"intent": ["cancel"]}] * 2
        if w == spike_window or (isinstance(spike_window, set) and w in spike_window):
            calls += [{"intent": ["cancel"]}] * spike_calls
        for i, dims in enumerate(calls):
            ts = T0 + w * 900 + (i + 0.5) * 900 / len(calls)
            stream.append(_facts(n, ts, dimensions=dims))
            n += 1
    return stream


def _stream(
    engine: AlertEngine,
    state: dict[str, Any],
    windows: int,
    per_window: int,
    spike_window: int | set[int] | None,
    spike_calls: int = 40,
    start: int = 0,
):
    stream = _stream_facts(windows, per_window, spike_window, spike_calls, start)
    alerts = [alert for facts in stream for alert in engine.apply(state, facts)]
    return alerts, start + len(stream)


def test_spike_fires_once_in_its_window_and_never_without_one() -> None:
    engine = AlertEngine(_config(**SPIKE))
    state = new_state()
    alerts, _ = _stream(engine, state, windows=12, per_window=20, spike_window=8)
    alerts += engine.flush(state)
    assert [(a.rule, a.subject) for a in alerts] == [("intent_spike", "intent=cancel")]
    assert alerts[0].window_start == datetime.fromtimestamp(T0 + 8 * 900, tz=UTC)
    assert alerts[0].value == 42 and alerts[0].baseline == pytest.approx(2.0)
    assert len(alerts[0].sample_call_ids) == 3

    quiet = new_state()
    none, _ = _stream(engine, quiet, windows=12, per_window=20, spike_window=None)
    assert none + engine.flush(quiet) == []


def test_no_spike_before_the_baseline_has_enough_windows() -> None:
    engine = AlertEngine(_config(**SPIKE))
    state = new_state()
    alerts, _ = _stream(engine, state, windows=4, per_window=20, spike_window=1)
    assert alerts + engine.flush(state) == []


def test_replayed_calls_are_not_counted_twice_and_the_alert_is_not_repeated() -> None:
    engine = AlertEngine(_config(**SPIKE))
    state = new_state()
    alerts, _n = _stream(engine, state, windows=10, per_window=20, spike_window=8)
    assert len(alerts) == 1
    snapshot = json.loads(json.dumps(state))  # what the changelog restores
    # The same calls again (a consumer restarting from an older offset): nothing new.
    again, _ = _stream(engine, snapshot, windows=10, per_window=20, spike_window=8)
    assert again == []
    # A state restored from before the window closed, with the alert id already on the topic.
    replay = new_state()
    replay["fired"] = [alerts[0].alert_id]
    repeated, _ = _stream(engine, replay, windows=10, per_window=20, spike_window=8)
    assert repeated == []


def test_cooldown_suppresses_the_same_subject_in_the_next_window() -> None:
    # Spikes in windows 6, 7 and 9: 7 is within 30 min of 6's alert, 9 is not.
    engine = AlertEngine(_config(**{**SPIKE, "cooldown_s": 1800}))
    state = new_state()
    alerts, _ = _stream(engine, state, windows=11, per_window=20, spike_window={6, 7, 9}, spike_calls=200)
    starts = [int((a.window_start.timestamp() - T0) // 900) for a in alerts]
    assert starts == [6, 9]


def test_late_calls_are_counted_as_late_not_folded_into_a_closed_window(
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine = AlertEngine(_config(**SPIKE))
    state = new_state()
    engine.apply(state, _facts(1, T0 + 10))
    engine.apply(state, _facts(2, T0 + 900 + 61))  # past window 0's end + lateness: it closes
    assert state["last_closed"] == engine.window_index(T0)
    assert caplog.records == []
    with caplog.at_level(logging.WARNING, logger="callpipe.alerts"):
        engine.apply(state, _facts(3, T0 + 20))
    assert state["late"] == 1
    [record] = caplog.records
    assert record.call_id == "c3" and record.late_total == 1  # type: ignore[attr-defined]
    assert record.window_start == datetime.fromtimestamp(T0, tz=UTC).isoformat()  # type: ignore[attr-defined]


def _partitioned_spike(partitions: int) -> list[list[CallFacts]]:
    """The spike stream of ``_stream`` dealt round-robin over ``partitions`` source partitions,
    each in its own offset order (what the job's extract agent forwards)."""
    dealt: list[list[CallFacts]] = [[] for _ in range(partitions)]
    for n, facts in enumerate(_stream_facts(windows=12, per_window=20, spike_window=8)):
        part = n % partitions
        dealt[part].append(replace(facts, source=(part, len(dealt[part]))))
    return dealt


def test_a_partition_read_ahead_does_not_make_the_others_late() -> None:
    # A backlog after a restart: once all three partitions are known, partition 0 is read further
    # and further ahead of partitions 1 and 2, up to 25 minutes (event time). Closing windows at
    # the newest call seen would drop the calls of the other two partitions at the end of every
    # window as late, and with them much of the spike.
    engine = AlertEngine(_config(**SPIKE))
    state = new_state()
    lead_s = 1500.0
    assert lead_s < engine.config.partition_idle_s
    merged = sorted(
        (f for part in _partitioned_spike(3) for f in part),
        key=lambda f: f.event_ts - (min(lead_s, max(0.0, f.event_ts - T0 - 1800)) if f.source[0] == 0 else 0),
    )
    alerts = [a for facts in merged for a in engine.apply(state, facts)] + engine.flush(state)
    assert state["late"] == 0
    assert [(a.rule, a.subject, a.value) for a in alerts] == [("intent_spike", "intent=cancel", 42)]


def test_an_idle_partition_does_not_hold_windows_open() -> None:
    engine = AlertEngine(_config(**SPIKE))
    state = new_state()
    engine.apply(state, _facts(1, T0 + 10))  # partition 0, then nothing more from it
    later = CallFacts(
        call_id="p1", event_ts=T0 + 900 + 61, agent="a1", dimensions={}, fields={}, metrics={}, source=(1, 0)
    )
    engine.apply(state, later)
    assert state["last_closed"] is None  # partition 0 may still bring calls of window 0
    idle_after = T0 + 10 + engine.config.partition_idle_s
    engine.apply(state, replace(later, event_ts=idle_after + 1, source=(1, 1)))
    assert state["last_closed"] is not None and state["last_closed"] >= engine.window_index(T0)


def test_a_state_from_before_partition_watermarks_still_closes_windows() -> None:
    # The changelog of a job that ran an older version restores a state without them.
    engine = AlertEngine(_config(**SPIKE))
    state = new_state()
    del state["partition_watermarks"]
    engine.apply(state, _facts(1, T0 + 10))
    engine.apply(state, _facts(2, T0 + 900 + 61))
    assert state["last_closed"] == engine.window_index(T0)
    assert state["partition_watermarks"] == {"0": T0 + 900 + 61}


def test_rate_rule_on_escalation_share() -> None:
    engine = AlertEngine(
        _config(
            name="escalation_rate",
            kind="rate",
            when={"escalation_risk": ["high"]},
            threshold=0.25,
            min_calls=20,
        )
    )
    state = new_state()
    alerts = []
    for i in range(40):  # window 0: 10 % high, window 1: 50 % high
        risk = "high" if i % 10 == 0 else "low"
        alerts += engine.apply(state, _facts(i, T0 + i * 20, fields={"escalation_risk": risk}))
    for i in range(40):
        risk = "high" if i % 2 == 0 else "low"
        alerts += engine.apply(state, _facts(100 + i, T0 + 900 + i * 20, fields={"escalation_risk": risk}))
    alerts += engine.flush(state)
    assert [(a.rule, a.value) for a in alerts] == [("escalation_rate", 0.5)]


def test_one_agents_sentiment_drop_against_their_own_baseline() -> None:
    engine = AlertEngine(
        _config(
            name="agent_drop",
            kind="agent_drop",
            metric="sentiment_score",
            drop=0.5,
            min_calls=4,
            baseline_windows=8,
            min_baseline_windows=3,
        )
    )
    state = new_state()
    alerts = []
    n = 0
    for w in range(6):
        for i in range(6):
            for agent in ("a1", "a2"):
                score = -0.6 if (agent == "a2" and w == 4) else 0.4
                alerts += engine.apply(
                    state, _facts(n, T0 + w * 900 + i * 100, agent=agent, metrics={"sentiment_score": score})
                )
                n += 1
    alerts += engine.flush(state)
    assert [a.subject for a in alerts] == ["agent=a2"]
    assert alerts[0].value == pytest.approx(-0.6)


QA_DROP = {
    "name": "agent_qa_score_drop",
    "kind": "agent_drop",
    "metric": "qa_score:standard_qa",
    "drop": 20,
    "min_calls": 4,
    "baseline_windows": 8,
    "min_baseline_windows": 3,
}


def _scored_record(call_id: str, ts: float, agent: str, scorecards: list[Any]) -> dict[str, Any]:
    record = example_analysis().model_dump(mode="python")
    record["call_id"] = call_id
    record["analyzed_at"] = datetime.fromtimestamp(ts, tz=UTC)
    record["metadata"] = {**record["metadata"], "agent_id": agent}
    record["scorecards"] = scorecards
    return record


def test_one_agents_qa_score_drop_from_the_scorecards_of_the_records() -> None:
    """Through extract_facts: a2's standard_qa falls from ~85 to 50 in window 4; a1 and the other
    form (whose scores swing freely) raise nothing; a2's null scores are not counted as 0."""
    engine = AlertEngine(_config(**QA_DROP))
    state = new_state()
    alerts = []
    n = 0
    for w in range(6):
        for i in range(6):
            for agent in ("a1", "a2"):
                qa = 50.0 if (agent == "a2" and w == 4) else 85.0 + (i % 2)
                cards: list[dict[str, Any]] = [
                    {"form": "standard_qa", "score": qa, "answers": []},
                    {"form": "sales_qa", "score": 0.0 if w == 4 else 100.0, "answers": []},
                ]
                if agent == "a2" and w == 2 and i < 3:  # no applicable question: not a 0
                    cards[0] = {"form": "standard_qa", "score": None, "answers": []}
                record = _scored_record(f"c{n}", T0 + w * 900 + i * 100, agent, cards)
                facts = extract_facts(record, "analyzed_at", (0, n))
                assert facts is not None
                alerts += engine.apply(state, facts)
                n += 1
    alerts += engine.flush(state)
    assert [(a.rule, a.kind, a.subject) for a in alerts] == [
        ("agent_qa_score_drop", "agent_drop", "agent=a2")
    ]
    assert alerts[0].window_start == datetime.fromtimestamp(T0 + 4 * 900, tz=UTC)
    assert alerts[0].value == pytest.approx(50.0)
    assert alerts[0].baseline == pytest.approx(85.5)
    assert alerts[0].threshold == pytest.approx(65.5)


def test_qa_score_facts_skip_null_and_malformed_scorecards() -> None:
    record = _scored_record(
        "c1",
        T0,
        "a1",
        [
            {"form": "standard_qa", "score": 72.5},
            {"form": "empty_form", "score": None},
            {"form": "flagged", "score": True},
            {"score": 10.0},
            "not a scorecard",
        ],
    )
    facts = extract_facts(record, "analyzed_at", (0, 0))
    assert facts is not None
    assert {k: v for k, v in facts.metrics.items() if k.startswith("qa_score:")} == {
        "qa_score:standard_qa": 72.5
    }
    assert extract_facts({**record, "scorecards": "x"}, "analyzed_at", (0, 0)) is not None
    # Inside the analysis (as categories may be) is read too.
    nested = {**record, "analysis": {**record["analysis"], "scorecards": [{"form": "f", "score": 9}]}}
    del nested["scorecards"]
    facts_nested = extract_facts(nested, "analyzed_at", (0, 0))
    assert facts_nested is not None and facts_nested.metrics["qa_score:f"] == 9.0


def test_an_agent_drop_rule_refuses_an_unknown_metric() -> None:
    for bad in ("qa_score", "qa_score:", "qa_scores:standard_qa", "sentiment"):
        with pytest.raises(ValidationError, match="unknown agent metric"):
            AgentDropRule.model_validate({**QA_DROP, "metric": bad})
    for good in ("sentiment_score", "satisfaction_score", "agent_sentiment", "qa_score:standard_qa"):
        assert AgentDropRule.model_validate({**QA_DROP, "metric": good}).metric == good


def test_bundled_qa_rule_watches_a_form_of_the_bundled_analysis_config() -> None:
    analysis_yaml = Path(__file__).parents[3] / "services/analyzer/callpipe_analyzer/analysis.yaml"
    forms = {form["id"] for form in yaml.safe_load(analysis_yaml.read_text())["scorecards"]}
    watched = [
        r.metric.removeprefix("qa_score:")
        for r in load_config(default_config_path()).rules
        if isinstance(r, AgentDropRule) and r.metric.startswith("qa_score:")
    ]
    assert watched and set(watched) <= forms


def test_facts_from_a_record_read_categories_defensively() -> None:
    record = example_analysis().model_dump(mode="python")
    facts = extract_facts(record, "analyzed_at", (3, 17))
    assert facts is not None and facts.source == (3, 17)
    assert facts.dimensions["intent"] == [record["analysis"]["intent"]]
    assert "category" not in facts.dimensions  # no categories field yet: no category facts
    with_records = {
        **record,
        "categories": [
            {"name": "cancellation_threat", "matched": True},
            {"name": "no_greeting", "matched": False},
        ],
    }
    from_records = extract_facts(with_records, "analyzed_at", (0, 0))
    assert from_records is not None and from_records.dimensions["category"] == ["cancellation_threat"]
    with_names = {**record, "categories": ["supervisor_requested"]}
    from_names = extract_facts(with_names, "analyzed_at", (0, 0))
    assert from_names is not None and from_names.dimensions["category"] == ["supervisor_requested"]
    assert extract_facts({**record, "categories": 7}, "analyzed_at", (0, 0)) is not None
    assert CallFacts.from_json(json.loads(json.dumps(facts.to_json()))) == facts


def test_bundled_rules_parse() -> None:
    config = load_config()
    assert {r.kind for r in config.rules} == {"spike", "rate", "agent_drop"}
    assert any(getattr(r, "dimension", None) == "category" for r in config.rules)
