"""The alert rules and windowing, read from ``alerts.yaml`` (bundled default or ALERTS_CONFIG_PATH)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from callpipe_alerts.facts import AGENT_METRICS, QA_SCORE_PREFIX

__all__ = [
    "AgentDropRule",
    "AlertsConfig",
    "RateRule",
    "Rule",
    "SpikeRule",
    "default_config_path",
    "load_config",
]


class _RuleBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    severity: Literal["info", "warning", "critical"] = "warning"
    cooldown_s: float = Field(default=3600.0, ge=0, description="No repeat for the same subject this long.")


class SpikeRule(_RuleBase):
    """Count of calls with a value of ``dimension`` against the mean of its last windows."""

    kind: Literal["spike"]
    dimension: str = Field(description="intent, competitor, category, topic or queue.")
    values: list[str] | None = Field(default=None, description="Only these values; None = every value.")
    factor: float = Field(gt=0)
    min_increase: float = Field(ge=0)
    min_count: int = Field(ge=1)
    baseline_windows: int = Field(ge=1)
    min_baseline_windows: int = Field(ge=1)


class RateRule(_RuleBase):
    """Share of the window's calls whose fields match ``when`` (any listed value), above a threshold."""

    kind: Literal["rate"]
    when: dict[str, list[str]]
    threshold: float = Field(gt=0, le=1)
    min_calls: int = Field(ge=1)


class AgentDropRule(_RuleBase):
    """One agent's mean ``metric`` in the window at least ``drop`` below that agent's baseline."""

    kind: Literal["agent_drop"]
    metric: str = Field(
        description="sentiment_score, satisfaction_score, agent_sentiment or qa_score:<scorecard form id>."
    )
    drop: float = Field(gt=0, description="In the metric's unit: -1..1 for sentiment, 0-100 for qa_score.")
    min_calls: int = Field(ge=1)
    baseline_windows: int = Field(ge=1)
    min_baseline_windows: int = Field(ge=1)

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, metric: str) -> str:
        # A misspelt metric would otherwise be a rule that silently never fires.
        form = metric.removeprefix(QA_SCORE_PREFIX)
        if metric in AGENT_METRICS or (metric.startswith(QA_SCORE_PREFIX) and form.strip()):
            return metric
        raise ValueError(
            f"unknown agent metric {metric!r}: use one of {', '.join(AGENT_METRICS)} "
            f"or {QA_SCORE_PREFIX}<scorecard form id>"
        )


Rule = Annotated[SpikeRule | RateRule | AgentDropRule, Field(discriminator="kind")]


class AlertsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    window_s: float = Field(gt=0)
    lateness_s: float = Field(ge=0)
    partition_idle_s: float = Field(
        default=1800.0,
        ge=0,
        description="A source partition this far (event time) behind the newest call holds no window open.",
    )
    event_time: Literal["analyzed_at", "received_at", "started_at"] = "analyzed_at"
    samples_per_alert: int = Field(default=5, ge=0)
    rules: list[Rule]


def default_config_path() -> Path:
    return Path(__file__).with_name("alerts.yaml")


def load_config(path: Path | None = None) -> AlertsConfig:
    """Parse and validate the rules; a bad file fails the service at start, with pydantic's reason."""
    text = (path or default_config_path()).read_text()
    config = AlertsConfig.model_validate(yaml.safe_load(text))
    names = [r.name for r in config.rules]
    if len(names) != len(set(names)):
        raise ValueError(f"rule names must be unique: {names}")
    return config
