"""``AlertRaised``: one real-time alert from the alerts job (topic ``alerts``; key ``alert_id``).

The alert id is derived from the rule, the subject and the window, so a job that replays a window
after a crash produces the same id: consumers (the sink, a webhook receiver) can drop repeats.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from callpipe.models.common import Contract


class AlertRaised(Contract):
    """A rule fired over one event-time window of analyzed calls."""

    alert_id: str = Field(description="Deterministic id: hash of rule, subject and window start; Kafka key.")
    rule: str = Field(description="Name of the rule in the alerts configuration.")
    kind: str = Field(description="Rule kind: spike, rate or agent_drop.")
    severity: str = Field(description="Configured severity: info, warning or critical.")
    subject: str = Field(description="What the rule watched, e.g. 'intent=cancel_service' or 'agent=a-17'.")
    window_start: datetime = Field(description="Start of the event-time window (UTC).")
    window_end: datetime = Field(description="End of the event-time window (UTC), exclusive.")
    value: float = Field(description="Observed value in the window (count, share or mean).")
    baseline: float | None = Field(default=None, description="Baseline it was compared with, when any.")
    threshold: float = Field(description="Threshold that was crossed.")
    calls_in_window: int = Field(description="Calls the rule counted in the window.")
    message: str = Field(description="One-line human-readable description.")
    sample_call_ids: list[str] = Field(default_factory=list, description="A few calls behind the alert.")
    raised_at: datetime = Field(description="Event time at which the window closed (UTC).")
