"""Twilio webhooks: incoming call TwiML, consent answer, recording status callback.

Every request must carry a valid ``X-Twilio-Signature`` (403 otherwise, nothing published).
The recording status callback answers 2xx only after the broker acknowledged the event; when
the broker is down it answers 503 with Retry-After, and Twilio retries the callback.
"""

from __future__ import annotations

import logging
import re
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, Field, ValidationError, field_validator

from callpipe.errors import DependencyUnavailableError
from callpipe.models import RecordingReady, RecordingSource
from callpipe.observability import bind_call_id
from callpipe_ingest.context import IngestContext, get_context, unavailable
from callpipe_ingest.settings import ConsentOnSilence
from callpipe_ingest.signature import SignatureError
from callpipe_ingest.twiml import (
    DUAL_CHANNEL_ROLES,
    CallContext,
    ConsentAnswer,
    consent_decision,
    consent_gate_twiml,
    context_from_query,
    dial_twiml,
    metadata_from_query,
)

__all__ = ["RecordingCallback", "router"]

_log = logging.getLogger(__name__)

router = APIRouter(prefix="/twilio", tags=["twilio"])

Ctx = Annotated[IngestContext, Depends(get_context)]

_SIGNATURE_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"description": "Missing or invalid X-Twilio-Signature (or no auth token configured)."},
}
_TWIML: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/xml": {}}, "description": "TwiML for Twilio."}
}


class RecordingCallback(BaseModel):
    """The parameters of Twilio's recordingStatusCallback request that ingest uses."""

    AccountSid: str = Field(pattern=r"^AC[0-9a-fA-F]{32}$")
    CallSid: str = Field(pattern=r"^CA[0-9a-fA-F]{32}$")
    RecordingSid: str = Field(pattern=r"^RE[0-9a-fA-F]{32}$")
    RecordingStatus: str = Field(pattern=r"^(in-progress|completed|absent|failed|processing|deleted)$")
    RecordingUrl: str | None = Field(default=None, max_length=2048)
    RecordingDuration: int | None = Field(default=None, ge=0, le=7 * 24 * 3600)
    RecordingChannels: int | None = Field(default=None, ge=1, le=2)
    RecordingSource: str | None = Field(default=None, max_length=64)
    RecordingStartTime: str | None = Field(default=None, max_length=64)
    ErrorCode: str | None = Field(default=None, max_length=16)

    @field_validator("RecordingUrl")
    @classmethod
    def _twilio_https(cls, value: str | None) -> str | None:
        # The transcriber downloads this URL with our Twilio credentials: only Twilio's API host.
        if value is not None and not re.fullmatch(r"https://api\.twilio\.com/[\w/.\-]+", value):
            raise ValueError("RecordingUrl must be an https://api.twilio.com/ URL")
        return value

    def start_time(self) -> datetime | None:
        if not self.RecordingStartTime:
            return None
        try:
            parsed = parsedate_to_datetime(self.RecordingStartTime)  # RFC 2822, as Twilio sends it
        except (TypeError, ValueError):
            return None
        return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


async def _verified(
    request: Request, ctx: IngestContext, endpoint: str
) -> tuple[dict[str, str], dict[str, str]]:
    """Form parameters and query of a request proven to come from Twilio; 403 otherwise."""
    form = await request.form()
    items = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    url = ctx.verifier.public_url(str(request.url), request.url.path, request.url.query)
    try:
        ctx.verifier.verify(url, items, request.headers)
    except SignatureError as exc:
        ctx.metrics.requests.labels(endpoint, "forbidden").inc()
        _log.warning("rejected Twilio webhook", extra={"endpoint": endpoint, "reason": exc.reason})
        # The reason (it names the internal URL the signature was checked against) goes to the log only.
        raise HTTPException(status_code=403, detail="invalid or missing X-Twilio-Signature") from None
    return dict(items), dict(parse_qsl(request.url.query))


def _twiml(xml: str) -> Response:
    return Response(content=xml, media_type="application/xml")


@router.post(
    "/voice",
    summary="Incoming call: disclosure, optional consent gate, recorded dual-channel <Dial>",
    responses={**_TWIML, **_SIGNATURE_ERRORS},
    response_class=Response,
)
async def voice(request: Request, ctx: Ctx) -> Response:
    params, _ = await _verified(request, ctx, "voice")
    call = CallContext.from_voice_webhook(params, ctx.settings)
    base = ctx.base_url(request)
    ctx.metrics.requests.labels("voice", "ok").inc()
    if ctx.settings.consent_required:
        return _twiml(consent_gate_twiml(ctx.settings, base, call))
    call = call.with_consent(call.consent.NOT_REQUIRED)
    return _twiml(dial_twiml(ctx.settings, base, call, record=True, say_disclosure=True))


@router.post(
    "/consent",
    summary="Consent answer (key press or speech): recorded or unrecorded <Dial>",
    responses={**_TWIML, **_SIGNATURE_ERRORS},
    response_class=Response,
)
async def consent(request: Request, ctx: Ctx) -> Response:
    params, query = await _verified(request, ctx, "consent")
    call = context_from_query(query)
    base = ctx.base_url(request)
    answer = consent_decision(params.get("Digits"), params.get("SpeechResult"))
    attempt = int(query.get("attempt", "1")) if query.get("attempt", "1").isdigit() else 1
    if answer is ConsentAnswer.UNCLEAR and query.get("silence") != "1" and attempt < 2:
        return _twiml(consent_gate_twiml(ctx.settings, base, call, attempt=attempt + 1))
    if answer is ConsentAnswer.UNCLEAR:
        granted = ctx.settings.consent_on_silence is ConsentOnSilence.GRANTED
        via = "silence" if query.get("silence") == "1" else "unclear"
    else:
        granted = answer is ConsentAnswer.GRANTED
        via = "dtmf" if params.get("Digits") else "speech"
    ctx.metrics.requests.labels("consent", "granted" if granted else "declined").inc()
    if granted:
        call = call.with_consent(call.consent.GRANTED)
        return _twiml(dial_twiml(ctx.settings, base, call, record=True, say_disclosure=False))
    call_sid = params.get("CallSid", "")
    with bind_call_id(call_sid or None):
        await _publish_consent_declined(ctx, call_sid, call, via)
    return _twiml(dial_twiml(ctx.settings, base, call, record=False, say_disclosure=False))


async def _publish_consent_declined(ctx: IngestContext, call_sid: str, call: CallContext, via: str) -> None:
    fact = {
        "type": "consent_declined",
        "call_id": call_sid,
        "via": via,
        "at": datetime.now(UTC).isoformat(),
        "from_number": call.from_number,
        "to_number": call.to_number,
        "direction": call.direction.value,
        "agent_id": call.agent_id,
        "queue": call.queue,
        "started_at": call.started_at.isoformat(),
    }
    try:
        await ctx.publisher.publish_fact(call_sid, fact)
    except DependencyUnavailableError as exc:
        # The caller is on the line: the call must go on, unrecorded, whatever the broker does.
        # The fact is not dropped silently: it is logged in full for replay and counted.
        ctx.metrics.requests.labels("consent", "fact_unpublished").inc()
        _log.error("consent-declined fact not published", extra={"fact": fact, "reason": exc.reason})


@router.post(
    "/recording-status",
    summary="Recording status callback: publish RecordingReady once the recording is completed",
    responses={
        200: {"description": "Published, duplicate (already published), or a non-final status ignored."},
        400: {"description": "Signed, but the parameters are not a usable recording callback."},
        **_SIGNATURE_ERRORS,
        503: {"description": "Broker did not acknowledge; Retry-After says when to retry."},
    },
)
async def recording_status(request: Request, ctx: Ctx) -> dict[str, Any]:
    started = time.perf_counter()
    params, query = await _verified(request, ctx, "recording_status")
    try:
        callback = RecordingCallback.model_validate(params)
    except ValidationError as exc:
        ctx.metrics.requests.labels("recording_status", "invalid").inc()
        reason = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        _log.warning("invalid recording callback", extra={"reason": reason})
        raise HTTPException(status_code=400, detail=reason) from None
    with bind_call_id(callback.CallSid):
        if callback.RecordingStatus != "completed":
            ctx.metrics.requests.labels("recording_status", "ignored").inc()
            _log.info(
                "recording callback acknowledged without event",
                extra={"status": callback.RecordingStatus, "recording_sid": callback.RecordingSid},
            )
            return {"status": "ignored", "recording_status": callback.RecordingStatus}
        if callback.RecordingUrl is None:
            ctx.metrics.requests.labels("recording_status", "invalid").inc()
            raise HTTPException(status_code=400, detail="RecordingUrl: required when completed")
        channels = callback.RecordingChannels or 1
        event = RecordingReady(
            call_id=callback.CallSid,
            recording_id=callback.RecordingSid,
            source=RecordingSource.TWILIO,
            audio_uri=callback.RecordingUrl,
            content_type="audio/wav",  # Twilio serves WAV for a RecordingUrl without extension
            duration_s=float(callback.RecordingDuration) if callback.RecordingDuration is not None else None,
            channel_count=channels,
            channel_roles=list(DUAL_CHANNEL_ROLES) if channels == 2 else [],
            metadata=metadata_from_query(query, callback.start_time()),
            received_at=datetime.now(UTC),
        )
        try:
            outcome = await ctx.publisher.publish_once("twilio", callback.RecordingSid, event)
        except DependencyUnavailableError as exc:
            ctx.metrics.requests.labels("recording_status", "unavailable").inc()
            _log.error("recording event not published", extra={"reason": exc.reason})
            raise unavailable(ctx, exc.message) from None
        status = "published" if outcome.published else "duplicate"
        ctx.metrics.requests.labels("recording_status", status).inc()
        if outcome.published:
            ctx.metrics.publish_seconds.labels("twilio").observe(time.perf_counter() - started)
        _log.info("recording callback", extra={"status": status, "recording_sid": callback.RecordingSid})
        return {
            "status": status,
            "call_id": outcome.entry.call_id,
            "recording_id": outcome.entry.recording_id,
        }
