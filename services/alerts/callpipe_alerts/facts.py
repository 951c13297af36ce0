"""The few facts of one analyzed call that alert rules look at, read defensively from its record.

The record is decoded with the writer's own schema, so fields newer than this service's contract
(``categories`` arriving from a newer analyzer) are seen; every field is optional here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = ["AGENT_METRICS", "QA_SCORE_PREFIX", "CallFacts", "extract_facts", "qa_score_metric"]

# Per-call numbers an agent_drop rule can average per agent: these, and one QA score per scorecard
# form (``qa_score:<form id>``, 0-100, the form ids of the analyzer's analysis.yaml).
AGENT_METRICS = ("sentiment_score", "satisfaction_score", "agent_sentiment")
QA_SCORE_PREFIX = "qa_score:"


def qa_score_metric(form: str) -> str:
    """Metric name of a scorecard form's score, e.g. ``qa_score:standard_qa``."""
    return f"{QA_SCORE_PREFIX}{form}"


@dataclass(frozen=True)
class CallFacts:
    """What the window aggregator keeps of one call; ``source`` = (partition, offset) for dedup."""

    call_id: str
    event_ts: float
    agent: str | None
    dimensions: dict[str, list[str]] = field(default_factory=dict)
    fields: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    source: tuple[int, int] = (0, -1)

    def to_json(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "event_ts": self.event_ts,
            "agent": self.agent,
            "dimensions": self.dimensions,
            "fields": self.fields,
            "metrics": self.metrics,
            "source": list(self.source),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CallFacts:
        partition, offset = data["source"]
        return cls(
            call_id=str(data["call_id"]),
            event_ts=float(data["event_ts"]),
            agent=data.get("agent"),
            dimensions={str(k): [str(v) for v in vs] for k, vs in data.get("dimensions", {}).items()},
            fields={str(k): str(v) for k, v in data.get("fields", {}).items()},
            metrics={str(k): float(v) for k, v in data.get("metrics", {}).items()},
            source=(int(partition), int(offset)),
        )


def _timestamp(value: Any) -> float | None:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    if isinstance(value, int | float):  # timestamp-micros read without logical types
        return float(value) / 1e6
    return None


def _names(items: Any, keys: tuple[str, ...]) -> list[str]:
    """Names from a list of strings or records (``{"name": …}``/``{"category": …}``); others skipped."""
    if not isinstance(items, list):
        return []
    names: list[str] = []
    for item in items:
        if isinstance(item, str):
            names.append(item)
        elif isinstance(item, dict):
            if item.get("matched") is False:  # a category record that did not match
                continue
            for key in keys:
                if isinstance(item.get(key), str):
                    names.append(item[key])
                    break
    return sorted(set(names))


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def extract_facts(record: dict[str, Any], event_time: str, source: tuple[int, int]) -> CallFacts | None:
    """Facts of a CallAnalyzed record; None when it has no usable event time (nothing to window)."""
    metadata = _mapping(record.get("metadata"))
    raw_ts = metadata.get(event_time) if event_time == "started_at" else record.get(event_time)
    event_ts = _timestamp(raw_ts) or _timestamp(record.get("analyzed_at"))
    if event_ts is None:
        return None
    analysis = _mapping(record.get("analysis"))
    dimensions: dict[str, list[str]] = {}
    if isinstance(analysis.get("intent"), str):
        dimensions["intent"] = [analysis["intent"]]
    dimensions["competitor"] = _names(analysis.get("competitor_mentions"), ("name",))
    dimensions["topic"] = _names(analysis.get("key_topics"), ("name",))
    # Categories may land on the record or inside the analysis; read both, tolerate either shape.
    categories = record.get("categories", analysis.get("categories"))
    dimensions["category"] = _names(categories, ("name", "category", "id", "category_id"))
    if isinstance(metadata.get("queue"), str):
        dimensions["queue"] = [metadata["queue"]]
    fields = {
        key: str(analysis[key])
        for key in ("escalation_risk", "churn_risk", "sentiment")
        if isinstance(analysis.get(key), str)
    }
    fields["status"] = str(record.get("status", ""))
    metrics: dict[str, float] = {}
    for key in ("sentiment_score", "satisfaction_score"):
        if isinstance(analysis.get(key), int | float):
            metrics[key] = float(analysis[key])
    for party in analysis.get("speaker_sentiment") or []:
        if (
            isinstance(party, dict)
            and party.get("role") == "agent"
            and isinstance(party.get("score"), int | float)
        ):
            metrics["agent_sentiment"] = float(party["score"])
    # Scorecards sit on the record (CallAnalyzed v3); a form with no applicable question has a null
    # score and says nothing about the agent, so it is skipped rather than counted as 0.
    for card in _list(record.get("scorecards", analysis.get("scorecards"))):
        if (
            isinstance(card, dict)
            and isinstance(card.get("form"), str)
            and isinstance(card.get("score"), int | float)
            and not isinstance(card.get("score"), bool)
        ):
            metrics[qa_score_metric(card["form"])] = float(card["score"])
    agent = metadata.get("agent_id") if isinstance(metadata.get("agent_id"), str) else None
    return CallFacts(
        call_id=str(record.get("call_id", "")),
        event_ts=event_ts,
        agent=agent,
        dimensions={k: v for k, v in dimensions.items() if v},
        fields=fields,
        metrics=metrics,
        source=source,
    )
