"""Flatten decoded ``CallAnalyzed`` dicts (``AvroSerde.deserialize_dict``) into column arrays.

Columnar on purpose: one pass over the batch appends to one Python list per column, and the lists
become one Arrow table per ClickHouse table (one insert per table per batch). Field names follow
the Avro contract; a missing required field is a contract break, reported for that one message.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import pyarrow as pa

from callpipe.errors import InvalidInputError

__all__ = ["CALL_SCHEMA", "UTTERANCE_SCHEMA", "CallRows", "UtteranceRows"]

_LC = pa.string()
_TS3 = pa.timestamp("ms", tz="UTC")
_TS6 = pa.timestamp("us", tz="UTC")
_F = pa.float32()

CALL_SCHEMA = pa.schema(
    [
        ("call_id", pa.string()),
        ("recording_id", pa.string()),
        ("source", _LC),
        ("status", _LC),
        ("language", _LC),
        ("flags", pa.list_(_LC)),
        ("has_analysis", pa.bool_()),
        ("summary", pa.string()),
        ("sentiment", _LC),
        ("sentiment_score", _F),
        ("caller_sentiment", _LC),
        ("caller_sentiment_score", _F),
        ("agent_sentiment", _LC),
        ("agent_sentiment_score", _F),
        ("intent", _LC),
        ("key_topics", pa.list_(_LC)),
        ("action_items", pa.list_(pa.string())),
        ("action_item_owners", pa.list_(_LC)),
        ("satisfaction_score", pa.uint8()),
        ("escalation_risk", _LC),
        ("competitors", pa.list_(_LC)),
        ("competitor_counts", pa.list_(pa.uint32())),
        ("custom_question_ids", pa.list_(_LC)),
        ("custom_answers", pa.list_(pa.string())),
        ("duration_s", _F),
        ("talk_time_s", _F),
        ("silence_s", _F),
        ("silence_share", _F),
        ("overlap_s", _F),
        ("turn_count", pa.uint32()),
        ("longest_monologue_s", _F),
        ("caller_talk_share", _F),
        ("agent_talk_share", _F),
        ("caller_words_per_minute", _F),
        ("agent_words_per_minute", _F),
        ("caller_interruptions", pa.uint32()),
        ("agent_interruptions", pa.uint32()),
        ("caller_turns", pa.uint32()),
        ("agent_turns", pa.uint32()),
        ("caller_sentiment_start", _F),
        ("caller_sentiment_end", _F),
        ("redaction_enabled", pa.bool_()),
        ("redaction_counts", pa.map_(_LC, pa.uint32())),
        ("analyzer", _LC),
        ("analyzer_version", _LC),
        ("model", _LC),
        ("prompt_version", _LC),
        ("prompt_tokens", pa.uint32()),
        ("completion_tokens", pa.uint32()),
        ("total_tokens", pa.uint32()),
        ("stt_engine", _LC),
        ("stt_model", _LC),
        ("audio_uri", pa.string()),
        ("audio_duration_s", _F),
        ("from_number", pa.string()),
        ("to_number", pa.string()),
        ("direction", _LC),
        ("agent_id", _LC),
        ("queue", _LC),
        ("consent", _LC),
        ("started_at", _TS3),
        ("started_at_known", pa.bool_()),
        ("received_at", _TS6),
        ("analyzed_at", _TS6),
        ("timing_stages", pa.list_(_LC)),
        ("timing_seconds", pa.list_(_F)),
    ]
)

UTTERANCE_SCHEMA = pa.schema(
    [
        ("call_id", pa.string()),
        ("analyzed_at", _TS6),
        ("idx", pa.uint32()),
        ("role", _LC),
        ("speaker", _LC),
        ("channel", pa.uint8()),
        ("start_s", _F),
        ("end_s", _F),
        ("text", pa.string()),
        ("sentiment", _F),
        ("started_at", _TS3),
    ]
)


def _role_block(items: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["role"]: item for item in items}


class CallRows:
    """Column lists for ``calls``; ``add`` one decoded analysis at a time."""

    def __init__(self) -> None:
        self.columns: dict[str, list[Any]] = {name: [] for name in CALL_SCHEMA.names}

    def __len__(self) -> int:
        return len(self.columns["call_id"])

    def add(self, event: dict[str, Any]) -> None:
        try:
            row = _flatten_call(event)
        except (KeyError, TypeError, AttributeError) as exc:
            raise InvalidInputError(
                f"analysis of call {event.get('call_id')!r} lacks a field: {exc!r}"
            ) from exc
        for name, value in zip(CALL_SCHEMA.names, row, strict=True):
            self.columns[name].append(value)

    def to_arrow(self) -> pa.Table:
        return pa.Table.from_pydict(self.columns, schema=CALL_SCHEMA)


class UtteranceRows:
    def __init__(self) -> None:
        self.columns: dict[str, list[Any]] = {name: [] for name in UTTERANCE_SCHEMA.names}

    def __len__(self) -> int:
        return len(self.columns["call_id"])

    def add(self, event: dict[str, Any]) -> None:
        call_id, analyzed_at = event["call_id"], event["analyzed_at"]
        started_at = event["metadata"].get("started_at") or event["received_at"]
        c = self.columns
        for idx, u in enumerate(event.get("utterances") or ()):
            c["call_id"].append(call_id)
            c["analyzed_at"].append(analyzed_at)
            c["idx"].append(idx)
            c["role"].append(u["role"])
            c["speaker"].append(u["speaker"])
            c["channel"].append(u.get("channel"))
            c["start_s"].append(u["start_s"])
            c["end_s"].append(u["end_s"])
            c["text"].append(u["text"])
            c["sentiment"].append(u.get("sentiment"))
            c["started_at"].append(started_at)

    def to_arrow(self) -> pa.Table:
        return pa.Table.from_pydict(self.columns, schema=UTTERANCE_SCHEMA)


def _flatten_call(e: dict[str, Any]) -> tuple[Any, ...]:
    a: dict[str, Any] | None = e.get("analysis")
    m: dict[str, Any] = e["metrics"]
    md: dict[str, Any] = e["metadata"]
    roles = _role_block(m.get("roles") or ())
    caller, agent = roles.get("caller", {}), roles.get("agent", {})
    started: datetime | None = md.get("started_at")
    tokens = e.get("token_usage") or {}
    timings = e.get("timings") or ()
    redaction = e["redaction"]
    if a is not None:
        speakers = _role_block(a.get("speaker_sentiment") or ())
        cs, ags = speakers.get("caller", {}), speakers.get("agent", {})
        items = a.get("action_items") or ()
        comps = a.get("competitor_mentions") or ()
        answers = a.get("custom_answers") or ()
        analysis: tuple[Any, ...] = (
            True,
            a["summary"],
            a["sentiment"],
            a["sentiment_score"],
            cs.get("sentiment", ""),
            cs.get("score"),
            ags.get("sentiment", ""),
            ags.get("score"),
            a["intent"],
            a.get("key_topics") or [],
            [i["text"] for i in items],
            [i["owner"] for i in items],
            a["satisfaction_score"],
            a["escalation_risk"],
            [c["name"] for c in comps],
            [c["count"] for c in comps],
            [x["question_id"] for x in answers],
            [x["answer"] for x in answers],
        )
    else:
        analysis = (False, "", "", None, "", None, "", None, "", [], [], [], None, "", [], [], [], [])
    return (
        e["call_id"],
        e["recording_id"],
        e["source"],
        e["status"],
        e.get("language") or "",
        e.get("flags") or [],
        *analysis,
        m["duration_s"],
        m["talk_time_s"],
        m["silence_s"],
        m["silence_share"],
        m["overlap_s"],
        m["turn_count"],
        m["longest_monologue_s"],
        caller.get("talk_share"),
        agent.get("talk_share"),
        caller.get("words_per_minute"),
        agent.get("words_per_minute"),
        caller.get("interruptions"),
        agent.get("interruptions"),
        caller.get("turns"),
        agent.get("turns"),
        caller.get("sentiment_start"),
        caller.get("sentiment_end"),
        redaction["enabled"],
        list((redaction.get("counts") or {}).items()),
        e["analyzer"],
        e["analyzer_version"],
        e["model"],
        e["prompt_version"],
        tokens.get("prompt_tokens", 0),
        tokens.get("completion_tokens", 0),
        tokens.get("total_tokens", 0),
        e["stt_engine"],
        e["stt_model"],
        e["audio_uri"],
        e["audio_duration_s"],
        md.get("from_number") or "",
        md.get("to_number") or "",
        md.get("direction") or "unknown",
        md.get("agent_id") or "",
        md.get("queue") or "",
        md.get("consent") or "unknown",
        list((md.get("attributes") or {}).items()),
        started if started is not None else e["received_at"],
        started is not None,
        e["received_at"],
        e["analyzed_at"],
        [t["stage"] for t in timings],
        [t["seconds"] for t in timings],
    )
