"""JSON-lines logging on stderr, with the call id of the work in progress on every line.

The call id lives in a ``contextvars.ContextVar``: each asyncio task processing one message has its
own copy, so concurrent calls never mix their ids, and code deep inside an adapter logs the right
id without passing it around.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

__all__ = ["JsonFormatter", "bind_call_id", "configure_logging", "current_call_id"]

_call_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("callpipe_call_id", default=None)

# Attributes every LogRecord has; anything else came from ``extra=`` and is logged as a field.
_STANDARD_ATTRS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


def current_call_id() -> str | None:
    return _call_id.get()


@contextmanager
def bind_call_id(call_id: str | None) -> Iterator[None]:
    """Add ``call_id`` to every log line written inside the block (in this task/thread context)."""
    token = _call_id.set(call_id)
    try:
        yield
    finally:
        _call_id.reset(token)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, service, logger, msg, call_id, extra fields, exc."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        call_id = getattr(record, "call_id", None) or _call_id.get()
        if call_id is not None:
            entry["call_id"] = call_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and key not in entry:
                entry[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            entry["exc_type"] = record.exc_info[0].__name__
            entry["exc"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        # default=str: a stray non-JSON value in ``extra`` must not lose the log line.
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(service: str, level: str | int = "INFO") -> None:
    """Route the root logger to stderr as JSON lines; replaces handlers set before (idempotent)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    # librdkafka's Python wrappers and httpx are chatty at INFO; their warnings still come through.
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
