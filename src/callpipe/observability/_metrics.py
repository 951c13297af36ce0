"""Prometheus metrics of the stage runner, labelled by stage.

Defined once per process on the default registry (prometheus_client refuses duplicates), so two
runners in one process (tests, a combined dev process) share the families with different labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from prometheus_client import Counter, Gauge, Histogram

__all__ = ["RunnerMetrics", "runner_metrics"]

# Calls take from milliseconds (rules) to minutes (a long recording through Whisper).
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)


@dataclass(frozen=True)
class RunnerMetrics:
    processed: Counter
    failed: Counter
    dead_lettered: Counter
    retried: Counter
    in_flight: Gauge
    processing_seconds: Histogram
    consumer_lag: Gauge
    committed_offset: Gauge
    paused_partitions: Gauge


@cache
def runner_metrics() -> RunnerMetrics:
    return RunnerMetrics(
        processed=Counter(
            "callpipe_runner_processed", "Messages finished successfully (output acknowledged).", ["stage"]
        ),
        failed=Counter(
            "callpipe_runner_failed", "Processing attempts that raised, by error class.", ["stage", "error"]
        ),
        dead_lettered=Counter(
            "callpipe_runner_dead_lettered", "Messages written to the dead-letter topic.", ["stage", "error"]
        ),
        retried=Counter("callpipe_runner_retried", "Retries scheduled, by error class.", ["stage", "error"]),
        in_flight=Gauge("callpipe_runner_in_flight", "Messages taken but not finished.", ["stage"]),
        processing_seconds=Histogram(
            "callpipe_runner_processing_seconds",
            "Time from taking a message to finishing it, retries included.",
            ["stage"],
            buckets=_BUCKETS,
        ),
        consumer_lag=Gauge(
            "callpipe_runner_consumer_lag",
            "High watermark minus committed position, per assigned partition.",
            ["stage", "topic", "partition"],
        ),
        committed_offset=Gauge(
            "callpipe_runner_committed_offset", "Last committed offset.", ["stage", "topic", "partition"]
        ),
        paused_partitions=Gauge("callpipe_runner_paused_partitions", "Partitions paused now.", ["stage"]),
    )
