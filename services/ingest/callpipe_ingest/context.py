"""What the HTTP routes share: settings, publisher, store, verifier, HTTP client, metrics, readiness."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
from fastapi import HTTPException, Request
from prometheus_client import CollectorRegistry, Counter, Histogram

from callpipe.auth import BearerAuthenticator
from callpipe.store import RecordingStore
from callpipe_ingest.publisher import Publisher
from callpipe_ingest.settings import IngestSettings
from callpipe_ingest.signature import TwilioSignatureVerifier

__all__ = ["IngestContext", "IngestMetrics", "ReadinessCheck", "get_context", "unavailable"]

# Returns None when ready, else the reason it is not.
ReadinessCheck = Callable[[], Awaitable[str | None]]


class IngestMetrics:
    """Per-app registry, so two apps in one process (tests, bench) never clash."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "callpipe_ingest_requests",
            "Ingest HTTP requests by endpoint and outcome.",
            ["endpoint", "outcome"],
            registry=self.registry,
        )
        self.publish_seconds = Histogram(
            "callpipe_ingest_publish_seconds",
            "From request start to broker acknowledgement of the event.",
            ["source"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )


@dataclass
class IngestContext:
    settings: IngestSettings
    publisher: Publisher
    store: RecordingStore
    verifier: TwilioSignatureVerifier
    http: httpx.AsyncClient
    metrics: IngestMetrics
    ready: ReadinessCheck
    auth: BearerAuthenticator

    def base_url(self, request: Request) -> str:
        """Public base URL for URLs we hand to Twilio (TwiML actions and callbacks)."""
        return (self.settings.public_base_url or str(request.base_url)).rstrip("/")


def get_context(request: Request) -> IngestContext:
    ctx: IngestContext = request.app.state.ingest
    return ctx


def unavailable(ctx: IngestContext, reason: str) -> HTTPException:
    """503 with Retry-After: the caller (Twilio, an uploader) must retry later; nothing was kept."""
    return HTTPException(
        status_code=503, detail=reason, headers={"Retry-After": str(ctx.settings.retry_after_s)}
    )
