"""FastAPI app factory of the ingest service. Nothing is built at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from callpipe.auth import BearerAuthenticator, Scope
from callpipe.avro import AvroSerde, SchemaRegistry, registry_from_settings
from callpipe.models import RecordingReady
from callpipe.netguard import guarded_transport
from callpipe.security_headers import SecurityHeaders
from callpipe.store import RecordingStore
from callpipe_ingest import transcript_routes, twilio_routes, upload
from callpipe_ingest.context import IngestContext, IngestMetrics, ReadinessCheck
from callpipe_ingest.ledger import Ledger
from callpipe_ingest.publisher import EventSender, Publisher
from callpipe_ingest.settings import IngestSettings
from callpipe_ingest.signature import TwilioSignatureVerifier
from callpipe_ingest.transcript_intake import TranscriptPublisher

__all__ = ["create_app"]


def _guarded_client(settings: IngestSettings) -> httpx.AsyncClient:
    """audio_url downloads: connections only to public addresses unless private ones are allowed."""
    if settings.allow_private_urls:
        return httpx.AsyncClient(transport=guarded_transport(policy=lambda _a, _p: True))
    return httpx.AsyncClient(transport=guarded_transport())


def create_app(
    settings: IngestSettings,
    producer: EventSender,
    store: RecordingStore,
    *,
    registry: SchemaRegistry | None = None,
    http_client: httpx.AsyncClient | None = None,
    readiness: ReadinessCheck | None = None,
) -> FastAPI:
    """The ingest app. ``readiness`` defaults to a broker metadata probe (``/readyz``)."""
    registry = registry or registry_from_settings(settings.schema_registry)
    serde = AvroSerde(RecordingReady, registry, f"{settings.topics.recordings}-value")
    publisher = Publisher(
        producer, serde, settings.topics, Ledger(store), timeout_s=settings.publish_timeout_s
    )
    if readiness is None:
        from callpipe_ingest.readiness import BrokerReadiness

        readiness = BrokerReadiness(settings.kafka)
    ctx = IngestContext(
        settings=settings,
        publisher=publisher,
        store=store,
        verifier=TwilioSignatureVerifier(settings.twilio_auth_token, settings.public_base_url),
        http=http_client or _guarded_client(settings),
        metrics=IngestMetrics(),
        ready=readiness,
        auth=BearerAuthenticator({Scope.UPLOAD: settings.api_token}, settings.oidc),
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        if http_client is None:  # ours to close; an injected client belongs to the caller
            await ctx.http.aclose()

    docs = settings.docs_enabled
    app = FastAPI(
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
        title="callpipe ingest",
        version="1",
        description=(
            "Twilio voice webhooks and a recording upload API. Every accepted recording becomes one "
            "RecordingReady event on the recordings topic, acknowledged by the broker before the "
            "request is answered."
        ),
    )
    app.state.ingest = ctx
    app.state.transcripts = TranscriptPublisher(
        producer, registry, settings.topics, Ledger(store), timeout_s=settings.publish_timeout_s
    )
    app.include_router(twilio_routes.router)
    app.include_router(upload.router)
    app.include_router(transcript_routes.router)
    app.add_middleware(
        upload.BodySizeLimit,
        path="/recordings",
        limit=settings.max_upload_bytes + (1 << 20),
    )
    app.add_middleware(SecurityHeaders)  # added last = outermost: also on the 413 answers

    @app.get("/healthz", tags=["ops"], summary="Process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["ops"],
        summary="Broker reachable: ready to accept recordings",
        responses={503: {"description": "Broker unreachable; the reason is in the body."}},
    )
    async def readyz() -> Any:
        reason = await ctx.ready()
        if reason is not None:
            return JSONResponse({"status": "unavailable", "reason": reason}, status_code=503)
        return {"status": "ready"}

    @app.get("/metrics", tags=["ops"], summary="Prometheus metrics", response_class=Response)
    async def metrics(_: Request) -> Response:
        return Response(generate_latest(ctx.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app
