"""Admin routes of the insights API (admin scope: ``INSIGHTS_ADMIN_TOKEN`` or a JWT granting
``callpipe:admin``; never the read token): erasure and reprocessing.

Without an admin token or OIDC configured every admin route answers 503, so a deployment that
never set one exposes no destructive endpoint.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field

from callpipe.auth import AuthError, BearerAuthenticator, Scope
from callpipe.errors import InvalidInputError
from callpipe_sink.lifecycle.erasure import Eraser, ErasureRequest
from callpipe_sink.lifecycle.reprocess import (
    DEFAULT_DRIP_PER_S,
    Checkpoint,
    Reprocessor,
    ReprocessRequest,
    Sender,
)

__all__ = ["EraseBody", "ReprocessBody", "ReprocessJobs", "admin_router"]


class EraseBody(BaseModel):
    call_ids: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=256)]], Field(max_length=10_000)
    ] = []
    phone: Annotated[str | None, Field(min_length=3, max_length=64)] = None
    requested_by: Annotated[str, Field(min_length=1, max_length=200, description="Who asked (audit).")]
    max_calls: Annotated[int, Field(ge=1, le=1_000_000)] = 10_000
    dry_run: bool = False


class ReprocessBody(BaseModel):
    since: datetime
    until: datetime
    from_stage: Literal["transcribe", "analyze"] = Field(alias="from")
    queue: Annotated[str | None, Field(max_length=256)] = None
    agent_id: Annotated[str | None, Field(max_length=256)] = None
    intent: Annotated[str | None, Field(max_length=256)] = None
    call_ids: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=256)]], Field(max_length=10_000)
    ] = []
    rate: Annotated[float, Field(gt=0, le=10_000, description="Most calls published per second.")] = (
        DEFAULT_DRIP_PER_S
    )
    max_calls: Annotated[int | None, Field(ge=1)] = None
    dry_run: bool = False


class ReprocessJobs:
    """Reprocess runs started by the API: one background task each, their progress readable.

    A job's checkpoint lives in ``checkpoint_dir`` under its selection's fingerprint, so after a
    sink restart POSTing the same selection resumes where the lost job stopped.
    """

    def __init__(self, reprocessor: Reprocessor, sender: Sender, checkpoint_dir: Path) -> None:
        self._reprocessor = reprocessor
        self._sender = sender
        self._dir = checkpoint_dir
        self.jobs: dict[str, dict[str, Any]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def count(self, request: ReprocessRequest) -> dict[str, Any]:
        return asdict(await self._reprocessor.run(request, self._sender, dry_run=True))

    def start(self, request: ReprocessRequest) -> dict[str, Any]:
        job_id = str(uuid.uuid4())
        job: dict[str, Any] = {"job_id": job_id, "state": "running", "done": 0, "total": None}
        self.jobs[job_id] = job

        def progress(done: int, total: int) -> None:
            job.update(done=done, total=total)

        async def work() -> None:
            path = self._dir / f"{request.fingerprint()}.json"
            try:
                report = await self._reprocessor.run(
                    request, self._sender, checkpoint=Checkpoint(path), progress=progress
                )
            except Exception as exc:  # noqa: BLE001 - reported on the job, the checkpoint stays
                job.update(state="failed", error=str(exc) or type(exc).__name__)
                return
            path.unlink(missing_ok=True)
            job.update(state="finished", report=asdict(report))

        task = asyncio.create_task(work(), name=f"reprocess-{job_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job


def admin_router(
    eraser: Eraser | None, authenticator: BearerAuthenticator, reprocess: ReprocessJobs | None = None
) -> APIRouter:
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

    @router.post("/reprocess", status_code=202)
    async def reprocess_calls(body: ReprocessBody) -> dict[str, Any]:
        """Re-publish stored calls (see ``callpipe reprocess``); a dry run answers the count."""
        if reprocess is None:
            raise HTTPException(503, "reprocessing needs a Kafka producer (not wired in this process)")
        try:
            request = ReprocessRequest(
                since=body.since,
                until=body.until,
                from_stage=body.from_stage,
                queue=body.queue,
                agent_id=body.agent_id,
                intent=body.intent,
                call_ids=tuple(body.call_ids),
                rate_per_s=body.rate,
                max_calls=body.max_calls,
            )
        except InvalidInputError as exc:
            raise HTTPException(422, exc.message) from exc
        if body.dry_run:
            return await reprocess.count(request)
        return reprocess.start(request)

    @router.get("/reprocess/{job_id}")
    def reprocess_job(job_id: str) -> dict[str, Any]:
        if reprocess is None or job_id not in reprocess.jobs:
            raise HTTPException(404, "no such reprocess job in this process")
        return reprocess.jobs[job_id]

    return router
