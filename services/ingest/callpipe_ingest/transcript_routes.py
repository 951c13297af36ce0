"""``POST /transcripts``: an existing transcript (multipart ``file`` + optional ``metadata``,
``format``, ``speaker_roles``), published as ``TranscriptReady`` without speech-to-text.

Same bearer token as ``POST /recordings``. Checks, cheapest first: token (401) → size (413) →
metadata (422) → transcript parse (422 with the reason: not a transcript, no speaker labels,
timestamps backwards…) → publish (201; 200 when the same bytes were already published; 503 when
the broker is down, nothing marked).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from callpipe.errors import DependencyUnavailableError, InvalidInputError, TransientError
from callpipe.models import RecordingSource, Role
from callpipe.transcripts import MAX_TRANSCRIPT_BYTES, TRANSCRIPT_FORMATS, TranscriptFormat
from callpipe_ingest.context import get_context, unavailable
from callpipe_ingest.intake import RecordingMetadata
from callpipe_ingest.transcript_intake import TranscriptPublisher, ingest_transcript
from callpipe_ingest.upload import _authorize

__all__ = ["router"]

_log = logging.getLogger(__name__)
router = APIRouter(tags=["upload"])

_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary", "description": "The transcript."},
                        "metadata": {"type": "string", "description": "JSON object, as for /recordings."},
                        "format": {"type": "string", "enum": list(TRANSCRIPT_FORMATS)},
                        "speaker_roles": {
                            "type": "string",
                            "description": 'JSON object speaker label → role, e.g. {"spk_0": "agent"}.',
                        },
                    },
                }
            }
        },
    }
}


def _text_field(value: object, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise HTTPException(400, f"'{name}' must be a text field")
    return value


def _options(form: Any) -> tuple[RecordingMetadata, TranscriptFormat | None, dict[str, Role] | None]:
    try:
        meta = RecordingMetadata.model_validate_json(_text_field(form.get("metadata"), "metadata") or "{}")
    except ValidationError as exc:
        reason = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'metadata'}: {e['msg']}" for e in exc.errors())
        raise HTTPException(422, f"invalid metadata: {reason}") from None
    fmt = _text_field(form.get("format"), "format")
    if fmt is not None and fmt not in TRANSCRIPT_FORMATS:
        raise HTTPException(422, f"format must be one of {', '.join(TRANSCRIPT_FORMATS)}")
    known: TranscriptFormat | None = next((f for f in TRANSCRIPT_FORMATS if f == fmt), None)
    raw_roles = _text_field(form.get("speaker_roles"), "speaker_roles")
    roles: dict[str, Role] | None = None
    if raw_roles:
        try:
            parsed = json.loads(raw_roles)
            roles = {str(k): Role(v) for k, v in parsed.items()}
        except (ValueError, AttributeError, TypeError):
            raise HTTPException(422, 'speaker_roles must be a JSON object like {"spk_0": "agent"}') from None
    return meta, known, roles


@router.post(
    "/transcripts",
    summary="Send an existing transcript; publishes TranscriptReady once per content (no speech-to-text)",
    status_code=201,
    openapi_extra=_BODY,
    responses={
        200: {"description": "The same transcript was already published: the original ids."},
        201: {"description": "Published; the event was acknowledged by the broker."},
        400: {"description": "No 'file', or a malformed form."},
        401: {"description": "Missing or wrong bearer token."},
        413: {"description": f"Transcript larger than {MAX_TRANSCRIPT_BYTES} bytes."},
        422: {"description": "Not a readable transcript (the reason is in the body), or invalid metadata."},
        503: {"description": "Broker unavailable (Retry-After), or no API token configured."},
    },
)
async def upload_transcript(request: Request, response: Response) -> dict[str, Any]:
    ctx = get_context(request)
    publisher: TranscriptPublisher = request.app.state.transcripts
    await _authorize(request, ctx)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_TRANSCRIPT_BYTES + (1 << 20):
        raise HTTPException(413, f"transcript larger than {MAX_TRANSCRIPT_BYTES} bytes")
    try:
        form = await request.form(max_files=1, max_fields=10)
    except Exception as exc:  # noqa: BLE001 - any multipart parser failure is the client's malformed form
        raise HTTPException(400, f"malformed form: {exc}") from None
    try:
        file = form.get("file")
        if not isinstance(file, UploadFile):
            raise HTTPException(400, "send the transcript as the multipart field 'file'")
        meta, fmt, roles = _options(form)
        data = await file.read(MAX_TRANSCRIPT_BYTES + 1)
        if len(data) > MAX_TRANSCRIPT_BYTES:
            raise HTTPException(413, f"transcript larger than {MAX_TRANSCRIPT_BYTES} bytes")
    finally:
        await form.close()
    try:
        outcome = await ingest_transcript(
            publisher, data, meta, RecordingSource.UPLOAD, fmt=fmt, speaker_roles=roles
        )
    except InvalidInputError as exc:  # TranscriptFormatError included
        ctx.metrics.requests.labels("transcript", "invalid").inc()
        raise HTTPException(422, exc.message) from None
    except (DependencyUnavailableError, TransientError) as exc:
        ctx.metrics.requests.labels("transcript", "unavailable").inc()
        _log.error("transcript not published", extra={"reason": exc.reason})
        raise unavailable(ctx, exc.message) from None
    status = "published" if outcome.published else "duplicate"
    if not outcome.published:
        response.status_code = 200
    ctx.metrics.requests.labels("transcript", status).inc()
    entry = outcome.entry
    return {"status": status, "call_id": entry.call_id, "recording_id": entry.recording_id}
