"""Retention: ClickHouse TTLs from ``RETENTION_*`` and the periodic recording-store sweep."""

from callpipe_sink.retention.sweeper import audio_retention, sweep_periodically
from callpipe_sink.retention.ttl import KEPT_TABLES, TableTTL, apply_ttls, table_ttls, ttl_statements

__all__ = [
    "KEPT_TABLES",
    "TableTTL",
    "apply_ttls",
    "audio_retention",
    "sweep_periodically",
    "table_ttls",
    "ttl_statements",
]
