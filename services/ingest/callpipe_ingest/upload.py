"""Upload API: ``POST /recordings`` with a multipart audio file or an ``audio_url``, plus metadata.

Order of checks, cheapest first, so bad requests cost nothing: bearer token (401) → declared size
(413, before the body is read) → streamed size (413) → metadata (422) → content sniffing (415)
→ decode check (422) → call id conflict (409) → store + publish (201; 200 when the same bytes
were already published; 503 when the broker or the store is down, nothing half-kept: the ledger
marks only acknowledged events).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import httpx
from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from callpipe.auth import AuthError
from callpipe.auth import Scope as AuthScope
from callpipe.errors import DependencyUnavailableError, InvalidInputError, TransientError
from callpipe.models import RecordingSource
from callpipe.netguard import check_url, loggable_url
from callpipe_ingest.audio import UnsupportedAudioError
from callpipe_ingest.context import IngestContext, get_context, unavailable
from callpipe_ingest.intake import CallConflictError, RecordingMetadata, ingest_bytes

__all__ = ["BodySizeLimit", "router"]

_log = logging.getLogger(__name__)

router = APIRouter(tags=["upload"])

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_FORM_SLACK = 1 << 20  # multipart boundaries and the metadata field on top of the audio


class _TooLarge(Exception):
    pass


class BodySizeLimit:
    """ASGI middleware: 413 for bodies over the limit on the upload path, without buffering them."""

    def __init__(self, app: ASGIApp, *, path: str, limit: int) -> None:
        self.app = app
        self.path = path
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await _send_413(send, self.limit)
            return
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if not started:
                await _send_413(send, self.limit)


async def _send_413(send: Send, limit: int) -> None:
    body = json.dumps({"detail": f"request body exceeds {limit - _FORM_SLACK} bytes of audio"}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _authorize(request: Request, ctx: IngestContext) -> None:
    """The upload scope: ``INGEST_API_TOKEN`` or a JWT granting it (callpipe.auth)."""
    if AuthScope.UPLOAD not in ctx.auth.configured:
        raise unavailable(ctx, "INGEST_API_TOKEN is not configured: the upload API is disabled")
    try:
        # A JWKS fetch (cache miss) blocks, so it runs off the event loop.
        await run_in_threadpool(ctx.auth.authorize, request.headers.get("authorization"), AuthScope.UPLOAD)
    except AuthError as exc:
        raise HTTPException(exc.status, exc.reason, headers=exc.headers) from exc


_FETCH_FAILED = "audio_url could not be fetched"  # one answer for every failure: no port scanning
_MAX_REDIRECTS = 3


def _fetch_failed(url: str, reason: str) -> HTTPException:
    _log.warning("audio_url refused or failed", extra={"url": loggable_url(url), "reason": reason})
    return HTTPException(422, _FETCH_FAILED)


async def _download(url: str, ctx: IngestContext) -> bytes:
    """GET ``url`` with redirects followed by hand, each hop re-checked (netguard); the client's
    transport re-checks every resolved address at connect time."""
    settings = ctx.settings
    limit = settings.max_upload_bytes
    hop = url
    try:
        for _ in range(_MAX_REDIRECTS + 1):
            check_url(hop, allow_private=settings.allow_private_urls, allowed_hosts=settings.audio_url_hosts)
            request = ctx.http.build_request("GET", hop, timeout=settings.url_fetch_timeout_s)
            response = await ctx.http.send(request, stream=True, follow_redirects=False)
            try:
                if response.is_redirect and "location" in response.headers:
                    hop = str(response.url.join(response.headers["location"]))
                    continue
                if response.status_code != 200:
                    raise _fetch_failed(url, f"HTTP {response.status_code}")
                declared = response.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > limit:
                    raise _fetch_failed(url, f"declared {declared} bytes > {limit}")
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > limit:
                        raise _fetch_failed(url, f"more than {limit} bytes")
                    chunks.append(chunk)
                return b"".join(chunks)
            finally:
                await response.aclose()
        raise _fetch_failed(url, f"more than {_MAX_REDIRECTS} redirects")
    except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
        # InvalidURL and ValueError: a URL (or a redirect's Location) that httpx or the standard
        # library cannot parse; the same generic answer as every other failure, never a 500.
        raise _fetch_failed(url, f"{type(exc).__name__}: {exc}") from None


def _replace_flag(form: FormData) -> bool:
    value = form.get("replace") or "false"
    if not isinstance(value, str) or value.lower() not in ("true", "false", "1", "0"):
        raise HTTPException(400, "'replace' must be true or false")
    return value.lower() in ("true", "1")


async def _read_form(form: FormData, ctx: IngestContext) -> tuple[bytes, RecordingMetadata]:
    file = form.get("file")
    audio_url = form.get("audio_url")
    if (file is None) == (audio_url is None) or isinstance(audio_url, UploadFile):
        raise HTTPException(400, "send exactly one of 'file' (multipart) or 'audio_url'")
    if file is not None and not isinstance(file, UploadFile):
        raise HTTPException(400, "'file' must be a file part (multipart with a filename), not a text field")
    raw_meta = form.get("metadata") or "{}"
    if not isinstance(raw_meta, str):
        raise HTTPException(400, "'metadata' must be a JSON string field")
    try:
        meta = RecordingMetadata.model_validate_json(raw_meta)
    except ValidationError as exc:
        reason = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'metadata'}: {e['msg']}" for e in exc.errors())
        raise HTTPException(422, f"invalid metadata: {reason}") from None
    if isinstance(file, UploadFile):
        data = await file.read()
        if len(data) > ctx.settings.max_upload_bytes:
            raise HTTPException(413, f"audio exceeds {ctx.settings.max_upload_bytes} bytes")
    elif isinstance(audio_url, str):
        data = await _download(audio_url, ctx)
    else:  # unreachable after the checks above; a 400, never an assertion's 500
        raise HTTPException(400, "send exactly one of 'file' (multipart) or 'audio_url'")
    return data, meta


_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {"type": "string", "format": "binary", "description": "The audio file."},
                        "audio_url": {"type": "string", "description": "Or: an http(s) URL to fetch."},
                        "metadata": {
                            "type": "string",
                            "description": "JSON object: " + ", ".join(RecordingMetadata.model_fields),
                        },
                        "replace": {
                            "type": "boolean",
                            "description": "Replace the recording already published under metadata.call_id.",
                        },
                    },
                }
            }
        },
    }
}


@router.post(
    "/recordings",
    summary="Upload a recording (file or URL) with metadata; publishes RecordingReady once per content",
    status_code=201,
    openapi_extra=_UPLOAD_BODY,
    responses={
        200: {"description": "The same audio was already published: the original ids."},
        201: {"description": "Stored and published; the event was acknowledged by the broker."},
        400: {"description": "Neither or both of file and audio_url, or a malformed form."},
        401: {"description": "Missing or wrong bearer token."},
        413: {"description": "Audio larger than INGEST_MAX_UPLOAD_BYTES."},
        415: {"description": "Not WAV (PCM/µ-law/A-law), MP3, FLAC or Ogg Opus/Vorbis audio."},
        409: {"description": "call_id already holds a different recording (send replace=true)."},
        422: {
            "description": "Invalid metadata, audio that does not decode / is truncated / is off-limits, "
            "or audio_url could not be fetched (one generic reason)."
        },
        503: {"description": "Broker or store unavailable (Retry-After), or no API token configured."},
    },
)
async def upload_recording(request: Request, response: Response) -> dict[str, Any]:
    ctx = get_context(request)
    started = time.perf_counter()
    await _authorize(request, ctx)
    try:
        form = await request.form(max_files=1, max_fields=10)
    except HTTPException:
        raise
    except Exception as exc:
        if isinstance(exc, _TooLarge):
            raise
        raise HTTPException(400, f"malformed form: {exc}") from None
    try:
        data, meta = await _read_form(form, ctx)
        replace = _replace_flag(form)
    finally:
        await form.close()  # the spooled upload's temp file
    try:
        outcome = await ingest_bytes(
            ctx.publisher, ctx.store, data, meta, RecordingSource.UPLOAD, replace=replace
        )
    except CallConflictError as exc:
        ctx.metrics.requests.labels("upload", "conflict").inc()
        raise HTTPException(409, exc.message) from None
    except UnsupportedAudioError as exc:
        ctx.metrics.requests.labels("upload", "unsupported").inc()
        raise HTTPException(415, exc.message) from None
    except InvalidInputError as exc:
        ctx.metrics.requests.labels("upload", "invalid").inc()
        raise HTTPException(422, exc.message) from None
    except (DependencyUnavailableError, TransientError) as exc:
        ctx.metrics.requests.labels("upload", "unavailable").inc()
        _log.error("upload not published", extra={"reason": exc.reason})
        raise unavailable(ctx, exc.message) from None
    if outcome.published:
        ctx.metrics.publish_seconds.labels("upload").observe(time.perf_counter() - started)
    else:
        response.status_code = 200
    status = "published" if outcome.published else "duplicate"
    ctx.metrics.requests.labels("upload", status).inc()
    entry = outcome.entry
    # No audio_uri: for the local store it is the server's absolute path (an information leak).
    return {"status": status, "call_id": entry.call_id, "recording_id": entry.recording_id}
