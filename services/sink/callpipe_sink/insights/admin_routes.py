"""Admin routes of the insights API (admin scope: ``INSIGHTS_ADMIN_TOKEN`` or a JWT granting
``callpipe:admin``; never the read token): erasure.

Without an admin token or OIDC configured every admin route answers 503, so a deployment that
never set one exposes no destructive endpoint.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field

from callpipe.auth import AuthError, BearerAuthenticator, Scope
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


def admin_router(eraser: Eraser | None, authenticator: BearerAuthenticator) -> APIRouter:
    def require_admin(request: Request) -> None:
        if Scope.ADMIN not in authenticator.configured:
            raise HTTPException(503, "admin endpoints are off: set INSIGHTS_ADMIN_TOKEN")
        try:
            authenticator.authorize(request.headers.get("authorization"), Scope.ADMIN)
        except AuthError as exc:
            raise HTTPException(exc.status, exc.reason, headers=exc.headers) from exc

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
