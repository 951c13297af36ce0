"""Insights route of a call's recording: ``GET /calls/{id}/audio``, for playback on the page.

The audio is call data like the transcript: the app's read-token dependency guards it, and the
answer is never cached (``no-store``) nor embedded cross-origin. The page fetches it with its
bearer header and plays a blob URL, because an ``<audio src>`` request cannot carry a header and
a token in a query string would end up in logs. Recordings are a few MB (8 kHz phone audio), so
the bytes are read whole; the recording store is the one ingest and the transcriber write.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import PurePosixPath
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, HTTPException, Response
from fastapi import Path as PathParam
from fastapi.params import Depends

from callpipe.errors import InvalidInputError
from callpipe.store import RecordingNotFoundError, RecordingStore

__all__ = ["AUDIO_MEDIA_TYPES", "media_router"]

# What browsers play natively, by the archived file's extension.
AUDIO_MEDIA_TYPES = {
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
    ".flac": "audio/flac",
    ".ogg": "audio/ogg",
    ".opus": "audio/ogg",
    ".webm": "audio/webm",
    ".m4a": "audio/mp4",
}


def media_router(
    recordings: RecordingStore | None,
    *,
    dependencies: Sequence[Depends],
    call_row: Callable[[str], dict[str, Any] | None],
) -> APIRouter:
    router = APIRouter(dependencies=list(dependencies))

    @router.get("/calls/{call_id}/audio")
    async def call_audio(call_id: Annotated[str, PathParam(min_length=1, max_length=256)]) -> Response:
        row = call_row(call_id)
        if row is None:
            raise HTTPException(404, f"no call {call_id!r}")
        uri = str(row.get("audio_uri") or "")
        if not uri:
            raise HTTPException(404, f"call {call_id!r} has no archived recording (imported transcript)")
        if recordings is None:
            raise HTTPException(404, "this insights API has no recording store configured")
        try:
            data = await recordings.get(uri)
        except RecordingNotFoundError:
            raise HTTPException(404, f"the recording of call {call_id!r} is no longer in the store") from None
        except InvalidInputError:  # a URI of another store (e.g. archived before a store move)
            raise HTTPException(
                404, f"the recording of call {call_id!r} is not in this recording store"
            ) from None
        media_type = AUDIO_MEDIA_TYPES.get(
            PurePosixPath(urlsplit(uri).path).suffix.lower(), "application/octet-stream"
        )
        return Response(data, media_type=media_type, headers={"Cache-Control": "no-store"})

    return router
