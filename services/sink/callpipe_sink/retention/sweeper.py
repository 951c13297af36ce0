"""The sink's periodic recording-store sweep (``RETENTION_SWEEP_INTERVAL_S``).

The sink runs it because it is the long-lived service that already owns the data's lifecycle
(erasure, playback) and opens the recording store; ingest and the transcriber only write to it.
Several sink instances sweeping the same store is harmless (deleting what is gone is no error),
only redundant. A failing sweep (store unreachable) is logged and retried at the next interval:
it never stops the sink from storing calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

from callpipe.errors import CallpipeError
from callpipe.settings import RetentionSettings
from callpipe.store import AudioRetention, SweepableStore, sweep_store

__all__ = ["audio_retention", "sweep_periodically"]

log = logging.getLogger("callpipe.sink.retention")


def audio_retention(settings: RetentionSettings) -> AudioRetention:
    return AudioRetention(settings.audio_days, settings.effective_original_audio_days)


async def sweep_periodically(
    store: SweepableStore, retention: AudioRetention, interval_s: float, stopping: asyncio.Event
) -> None:
    """Sweep now, then every ``interval_s``, until ``stopping`` is set."""
    while not stopping.is_set():
        try:
            await sweep_store(store, retention, datetime.now(UTC))
        except CallpipeError as exc:
            log.warning("retention sweep failed, retrying later", extra={"error": exc.reason})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), interval_s)
