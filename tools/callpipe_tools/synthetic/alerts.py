"""A synthetic ``AlertRaised`` for seeding the alerts table in benchmarks and tests.

One scenario, the alerts job's bundled cancellation-threat spike: 14 calls in a 15-minute window
against a baseline of 3.5 (threshold 7), raised a minute after the window closed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from callpipe.models import AlertRaised

__all__ = ["cancellation_spike_alert"]

WINDOW = timedelta(minutes=15)


def cancellation_spike_alert(
    alert_id: str, window_start: datetime, severity: str, sample_call_ids: Sequence[str]
) -> AlertRaised:
    return AlertRaised(
        alert_id=alert_id,
        rule="cancellation_threat_spike",
        kind="spike",
        severity=severity,
        subject="category=cancellation_threat",
        window_start=window_start,
        window_end=window_start + WINDOW,
        value=14.0,
        baseline=3.5,
        threshold=7.0,
        calls_in_window=62,
        message="cancellation_threat: 14 calls in 15 min against a baseline of 3.5",
        sample_call_ids=list(sample_call_ids),
        raised_at=window_start + WINDOW + timedelta(minutes=1),
    )
