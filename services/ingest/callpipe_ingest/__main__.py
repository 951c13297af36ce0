"""Entry point: ``python -m callpipe_ingest`` runs the ingest HTTP service (uvicorn).

The only place that reads the environment: settings → producer, store → app → uvicorn.
"""

from __future__ import annotations

import signal
import sys
from types import FrameType

import uvicorn

from callpipe.kafka import EventProducer, ensure_topics
from callpipe.observability import configure_logging
from callpipe.store import open_recording_store
from callpipe_ingest.app import create_app
from callpipe_ingest.settings import IngestSettings


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    sys.exit(0)


def main() -> None:
    configure_logging("ingest")
    settings = IngestSettings()
    ensure_topics(settings.kafka, [settings.topics.recordings, settings.topics.call_events])
    # The producer gives up before we answer 503 (see IngestSettings.delivery_timeout_s).
    producer = EventProducer(settings.kafka, delivery_timeout_s=settings.delivery_timeout_s)
    store = open_recording_store(settings.recording_store)
    app = create_app(settings, producer, store)
    # uvicorn drains requests on SIGTERM/SIGINT, then re-raises the signal with the handler it
    # found; with the default one the process dies there and the finally below never runs. Ours
    # turns it into a normal exit, so the producer is flushed and closed and the exit status is 0.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _exit_cleanly)
    try:
        uvicorn.run(app, host=settings.host, port=settings.port, log_config=None, access_log=False)
    finally:
        producer.close()


if __name__ == "__main__":
    main()
