"""Admin routes of the insights API (``INSIGHTS_ADMIN_TOKEN``, never the read token): erasure.

Until the API has token scopes of its own, the admin token is a second bearer token checked
here; without it configured every admin route answers 503, so a deployment that never set it
exposes no destructive endpoint.
"""

from __future__ import annotations

import hmac
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field, SecretStr

from callpipe.errors import InvalidInputError
from callpipe_sink.lifecycle.erasure import Eraser, ErasureRequest

__all__ = ["EraseBody", "admin_router"]


class EraseBody(BaseModel):
    call_ids: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=256)]], Field(max_length=10_000)
    ] = []
    phone: Annotated[str | None, Field(min_length=3, max_length=64)] = None
    requested_by: Annotated[str, Field(min_length=1, max_length=200, description="Who asked (audit).")]
    max_calls: Annotated[int, Field(ge=1, le=1_000_000)] = 10_000
    dry_run: bool = False


def admin_router(eraser: Eraser | None, admin_token: SecretStr | None) -> APIRouter:
    expected = admin_token.get_secret_value().encode() if admin_token is not None else None

    def require_admin(request: Request) -> None:
        if expected is None:
            raise HTTPException(503, "admin endpoints are off: set INSIGHTS_ADMIN_TOKEN")
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected):
            raise HTTPException(401, "missing or wrong admin token", headers={"WWW-Authenticate": "Bearer"})

    router = APIRouter(prefix="/admin", dependencies=[Depends(require_admin)])

    @router.post("/erase")
    async def erase(body: EraseBody) -> dict[str, Any]:
        if eraser is None:
            raise HTTPException(503, "erasure needs the recording store (not wired in this process)")
        try:
            request = ErasureRequest(body.requested_by, tuple(body.call_ids), body.phone, body.max_calls)
            report = await eraser.erase(request, dry_run=body.dry_run)
        except InvalidInputError as exc:
            raise HTTPException(422, exc.message) from exc
        return asdict(report)

    return router
