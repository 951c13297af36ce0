"""Insights routes of the call lifecycle: ``/calls/{id}/status`` and ``/failures``.

A router of its own (included by ``create_app`` with the app's read-token dependency), so the
lifecycle endpoints stay apart from the analytics ones.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from fastapi import Path as PathParam
from fastapi.params import Depends

from callpipe_sink.lifecycle import CallStatusQueries, current_state

__all__ = ["lifecycle_router"]


def lifecycle_router(
    status: CallStatusQueries,
    *,
    dependencies: Sequence[Depends],
    clock: Callable[[], datetime],
    jsonable: Callable[[dict[str, Any]], dict[str, Any]],
    call_exists: Callable[[str], bool],
) -> APIRouter:
    router = APIRouter(dependencies=list(dependencies))

    @router.get("/calls/{call_id}/status")
    def call_status(call_id: Annotated[str, PathParam(min_length=1, max_length=256)]) -> dict[str, Any]:
        events = status.timeline(call_id)
        if not events and not call_exists(call_id):
            raise HTTPException(404, f"nothing known about call {call_id!r}")
        return jsonable({"call_id": call_id, **current_state(events), "events": events})

    @router.get("/failures")
    def failures(
        days: Annotated[int, Query(ge=1, le=366, description="Window ending now, in days.")] = 7,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> dict[str, Any]:
        until = clock()
        since = until - timedelta(days=days)
        total, items = status.failures(since, until, limit)
        return jsonable({"since": since, "until": until, "total": total, "items": items})

    return router
