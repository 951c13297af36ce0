"""Structured JSON logs with the call id, Prometheus metrics, and a tiny /healthz + /metrics server."""

from callpipe.observability._health import HealthServer
from callpipe.observability._logging import JsonFormatter, bind_call_id, configure_logging, current_call_id
from callpipe.observability._metrics import RunnerMetrics, runner_metrics

__all__ = [
    "HealthServer",
    "JsonFormatter",
    "RunnerMetrics",
    "bind_call_id",
    "configure_logging",
    "current_call_id",
    "runner_metrics",
]
