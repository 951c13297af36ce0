"""Dead-letter records: the original value, key and headers, plus why and where it failed.

Replaying a dead-lettered message means producing its value, key and original headers back to
``x-callpipe-source-topic``; the ``x-callpipe-*`` headers of an earlier failure are replaced, not
stacked, so a message that fails again carries only its latest reason.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

__all__ = ["HEADER_PREFIX", "MAX_REASON_BYTES", "dead_letter_headers", "error_class_name"]

HEADER_PREFIX = "x-callpipe-"
# Brokers cap record size (1 MiB by default); a traceback-sized reason must not make the dead
# letter itself undeliverable.
MAX_REASON_BYTES = 4096

Header = tuple[str, bytes]


def error_class_name(error: BaseException) -> str:
    return type(error).__name__


def _error_message(error: BaseException) -> str:
    message = getattr(error, "message", None)
    return message if isinstance(message, str) else str(error) or repr(error)


def dead_letter_headers(
    original: Sequence[tuple[str, bytes | str | None]] | Mapping[str, bytes | str | None] | None,
    *,
    error: BaseException,
    stage: str,
    topic: str,
    partition: int,
    offset: int,
    attempts: int,
    now_ms: int | None = None,
) -> list[Header]:
    kept: list[Header] = []
    pairs = original.items() if isinstance(original, Mapping) else (original or ())
    for name, value in pairs:
        if name.startswith(HEADER_PREFIX):
            continue
        if value is None:
            kept.append((name, b""))
        else:
            kept.append((name, value.encode() if isinstance(value, str) else bytes(value)))
    message = _error_message(error).encode("utf-8", errors="replace")
    if len(message) > MAX_REASON_BYTES:
        message = message[: MAX_REASON_BYTES - 3] + b"..."
    stamp = now_ms if now_ms is not None else int(time.time() * 1000)
    ours: list[Header] = [
        ("x-callpipe-error-class", error_class_name(error).encode()),
        ("x-callpipe-error-message", message),
        ("x-callpipe-stage", stage.encode()),
        ("x-callpipe-source-topic", topic.encode()),
        ("x-callpipe-source-partition", str(partition).encode()),
        ("x-callpipe-source-offset", str(offset).encode()),
        ("x-callpipe-attempts", str(attempts).encode()),
        ("x-callpipe-dead-lettered-at-ms", str(stamp).encode()),
    ]
    return kept + ours
