"""Insights routes of categories and QA scorecards: ``/categories`` and ``/scorecards/agents``.

A router of its own, included by ``create_app`` with the app's read-token dependency (every
route here returns call data) and the app's one call filter (``call_filter``, the dependency the
list and every panel take; ``window`` makes its since/until explicit), so the page's category,
agent and scorecard panels count the calls the list shows. The call list's ``category`` filter
and the categories/scorecards of ``/calls/{id}`` are served by the app's own routes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.params import Depends

from callpipe_sink.insights.quality_queries import QualityQueries
from callpipe_sink.insights.queries import CallFilters  # at run time: FastAPI reads the annotations

__all__ = ["quality_router"]

Days = Annotated[int, Query(ge=1, le=366, description="Window ending now, in days (unless since is given).")]


def quality_router(
    queries: QualityQueries,
    *,
    dependencies: Sequence[Depends],
    call_filter: Any,  # Depends(call_filters), typed Any as fastapi.Depends() returns it
    window: Callable[[CallFilters, int], tuple[CallFilters, datetime, datetime]],
    jsonable: Callable[[dict[str, Any]], dict[str, Any]],
) -> APIRouter:
    router = APIRouter(dependencies=list(dependencies))

    @router.get("/categories")
    def categories(
        filters: CallFilters = call_filter,
        days: Days = 7,
        bucket: Literal["hour", "day", "week"] = "day",
        series: Annotated[bool, Query(description="Also the counts per bucket (points).")] = True,
    ) -> dict[str, Any]:
        scoped, since, until = window(filters, days)
        calls, totals, points = queries.categories(scoped, bucket, series=series)
        return jsonable(
            {
                "since": since,
                "until": until,
                "bucket": bucket,
                "calls": calls,
                "categories": totals,
                "points": points,
            }
        )

    @router.get("/scorecards/agents")
    def agent_scorecards(
        filters: CallFilters = call_filter,
        days: Days = 28,
        period: Annotated[
            Literal["day", "week", "all"],
            Query(description="Rows per day, per week, or one per agent and form over the window."),
        ] = "week",
        form: Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9_]*$")] = None,
        questions: Annotated[bool, Query(description="Also each question's pass rate per row.")] = True,
    ) -> dict[str, Any]:
        scoped, since, until = window(filters, days)
        scores = queries.agent_scores(scoped, form, period)
        answers = queries.agent_questions(scoped, form, period) if questions else []
        by_key: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        for q in answers:
            key = (q.pop("agent_id"), q.pop("form"), q.pop("period"))
            by_key.setdefault(key, []).append(q)
        items = [{**s, "questions": by_key.get((s["agent_id"], s["form"], s["period"]), [])} for s in scores]
        return jsonable({"since": since, "until": until, "period": period, "items": items})

    return router
