"""Insights routes of categories and QA scorecards: ``/categories`` and ``/scorecards/agents``.

A router of its own, included by ``create_app`` with the app's read-token dependency (every
route here returns call data). The call list's ``category`` filter and the categories/scorecards
of ``/calls/{id}`` are served by the app's own routes with ``QualityQueries``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.params import Depends

from callpipe.limits import LABEL_PATTERN
from callpipe_sink.insights.quality_queries import QualityQueries

__all__ = ["quality_router"]

Label = Annotated[str | None, Query(pattern=LABEL_PATTERN, description="Exact value of the column.")]


def quality_router(
    queries: QualityQueries,
    *,
    dependencies: Sequence[Depends],
    clock: Callable[[], datetime],
    jsonable: Callable[[dict[str, Any]], dict[str, Any]],
) -> APIRouter:
    router = APIRouter(dependencies=list(dependencies))

    @router.get("/categories")
    def categories(
        days: Annotated[int, Query(ge=1, le=366, description="Window ending now, in days.")] = 7,
        bucket: Literal["hour", "day", "week"] = "day",
        queue: Label = None,
        agent_id: Label = None,
    ) -> dict[str, Any]:
        until = clock()
        since = until - timedelta(days=days)
        calls, totals, series = queries.categories(since, until, queue, agent_id, bucket)
        return jsonable(
            {
                "since": since,
                "until": until,
                "bucket": bucket,
                "calls": calls,
                "categories": totals,
                "points": series,
            }
        )

    @router.get("/scorecards/agents")
    def agent_scorecards(
        days: Annotated[int, Query(ge=1, le=366, description="Window ending now, in days.")] = 28,
        period: Literal["day", "week"] = "week",
        queue: Label = None,
        agent_id: Label = None,
        form: Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9_]*$")] = None,
    ) -> dict[str, Any]:
        until = clock()
        since = until - timedelta(days=days)
        scores = queries.agent_scores(since, until, queue, agent_id, form, period)
        questions = queries.agent_questions(since, until, queue, agent_id, form, period)
        by_key: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        for q in questions:
            key = (q.pop("agent_id"), q.pop("form"), q.pop("period"))
            by_key.setdefault(key, []).append(q)
        items = [{**s, "questions": by_key.get((s["agent_id"], s["form"], s["period"]), [])} for s in scores]
        return jsonable({"since": since, "until": until, "period": period, "items": items})

    return router
