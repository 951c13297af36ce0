"""Entry point: ``python -m callpipe_ingest`` runs the ingest HTTP service (uvicorn).

The only place that reads the environment: settings → producer, store → app → uvicorn.
"""

from __future__ import annotations

import uvicorn

from callpipe.kafka import EventProducer, ensure_topics
from callpipe.observability import configure_logging
from callpipe.store import open_recording_store
from callpipe_ingest.app import create_app
from callpipe_ingest.settings import IngestSettings


def main() -> None:
    configure_logging("ingest")
    settings = IngestSettings()
    ensure_topics(settings.kafka, [settings.topics.recordings, settings.topics.call_events])
    # The producer gives up when we would answer 503 anyway, so a late ack cannot follow a 503.
    producer = EventProducer(settings.kafka, delivery_timeout_s=settings.publish_timeout_s)
    store = open_recording_store(settings.recording_store)
    app = create_app(settings, producer, store)
    try:
        uvicorn.run(app, host=settings.host, port=settings.port, log_config=None, access_log=False)
    finally:
        producer.close()


if __name__ == "__main__":
    main()
