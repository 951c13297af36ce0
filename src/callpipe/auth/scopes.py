"""The three permissions of the HTTP APIs; none implies another (an admin token cannot read)."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Scope"]


class Scope(StrEnum):
    UPLOAD = "upload"  # POST /recordings, POST /transcripts (ingest)
    READ = "read"  # every insights endpoint returning call data
    ADMIN = "admin"  # POST /admin/erase and any other destructive endpoint
