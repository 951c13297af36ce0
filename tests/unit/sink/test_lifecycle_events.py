"""Kafka record → call_events row, and a call's state from its events."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from callpipe.errors import TransientError
from callpipe.runner import dead_letter_headers
from callpipe_sink.lifecycle import EventTopics, current_state, event_row
from callpipe_sink.lifecycle.event_rows import MAX_REASON_CHARS

TOPICS = EventTopics("callpipe.recordings", "callpipe.transcripts", "callpipe.call-events", "callpipe.dlq")
T0 = 1_764_900_000_000


def test_stage_outputs_are_received_and_transcribed_by_record_key() -> None:
    rec = event_row(TOPICS, "callpipe.recordings", b"CA1", b"\x00avro", None, T0)
    assert rec is not None and (rec.call_id, rec.event, rec.stage) == ("CA1", "received", "ingest")
    assert rec.at == datetime.fromtimestamp(T0 / 1000, UTC)
    tr = event_row(TOPICS, "callpipe.transcripts", b"CA1", b"", [], T0)
    assert tr is not None and (tr.event, tr.stage) == ("transcribed", "transcriber")
    assert event_row(TOPICS, "callpipe.recordings", None, b"", None, T0) is None  # no call id
    assert event_row(TOPICS, "other.topic", b"CA1", b"", None, T0) is None


def test_a_dead_letter_carries_stage_class_reason_and_attempts_from_the_runner_headers() -> None:
    headers = dead_letter_headers(
        [("traceparent", b"x")],
        error=TransientError("LLM answered 503" + "!" * 5000),
        stage="analyzer",
        topic="callpipe.transcripts",
        partition=0,
        offset=7,
        attempts=5,
        now_ms=T0 + 1000,
    )
    row = event_row(TOPICS, "callpipe.dlq.analyzer", b"CA2", b"body", headers, T0 + 2000)
    assert row is not None
    assert (row.event, row.stage, row.error_class, row.attempts) == (
        "dead_lettered",
        "analyzer",
        "TransientError",
        5,
    )
    assert row.reason.startswith("LLM answered 503") and len(row.reason) == MAX_REASON_CHARS
    assert row.at == datetime.fromtimestamp((T0 + 1000) / 1000, UTC)  # when it was dead-lettered
    assert row.source_topic == "callpipe.transcripts"


def test_only_known_facts_of_the_call_events_topic_become_events() -> None:
    fact = {"type": "consent_declined", "call_id": "CA3", "via": "speech", "at": "2026-12-01T10:00:00+00:00"}
    row = event_row(TOPICS, "callpipe.call-events", b"CA3", json.dumps(fact).encode(), None, T0)
    assert row is not None and row.event == "consent_declined" and "speech" in row.reason
    assert row.at == datetime(2026, 12, 1, 10, tzinfo=UTC)
    other = json.dumps({"type": "something_else", "call_id": "CA3"}).encode()
    assert event_row(TOPICS, "callpipe.call-events", b"CA3", other, None, T0) is None
    assert event_row(TOPICS, "callpipe.call-events", b"CA3", b"not json", None, T0) is None


def _ev(event: str, stage: str, second: int, reason: str = "") -> dict[str, object]:
    return {
        "event": event,
        "stage": stage,
        "at": datetime(2026, 12, 1, 10, 0, second, tzinfo=UTC),
        "reason": reason,
    }


def test_state_is_the_latest_event_and_a_replayed_dead_letter_reads_as_its_later_success() -> None:
    assert current_state([])["state"] == "unknown"
    failed = [_ev("received", "ingest", 0), _ev("dead_lettered", "transcriber", 3, "bad audio")]
    assert current_state(failed) == {
        "state": "failed",
        "failed": True,
        "stage": "transcriber",
        "reason": "bad audio",
    }
    replayed = [*failed, _ev("transcribed", "transcriber", 9)]
    assert current_state(replayed)["state"] == "analyzing"
    # Same instant: pipeline order decides (stored after analyzed).
    same = [_ev("analyzed", "analyzer", 5), _ev("stored", "sink", 5)]
    assert current_state(same)["state"] == "stored"
