"""FastAPI app factory of the insights API and the built-in dashboard page.

Every endpoint that returns call data requires the read scope (``Authorization: Bearer
<INSIGHTS_TOKEN>`` or a JWT granting it, callpipe.auth); the
page itself (static HTML/JS, no data) and ``/healthz`` do not. Queries are blocking
clickhouse-connect calls, so endpoints are plain ``def`` and run in FastAPI's thread pool.
Bad parameters answer 422 with a reason (FastAPI's validation, or our own checks below).
"""

from __future__ import annotations

import csv
import io
import logging
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from callpipe.auth import AuthError, BearerAuthenticator, Scope
from callpipe.errors import CallpipeError, DependencyUnavailableError
from callpipe.limits import EARLIEST_CALL, LABEL_PATTERN, date_in_window
from callpipe.security_headers import SecurityHeaders
from callpipe.store import RecordingStore
from callpipe_sink.alerts_store import AlertQueries
from callpipe_sink.insights.admin_routes import ReprocessJobs, admin_router
from callpipe_sink.insights.lifecycle_routes import lifecycle_router
from callpipe_sink.insights.media_routes import media_router
from callpipe_sink.insights.quality_queries import QualityQueries
from callpipe_sink.insights.quality_routes import quality_router
from callpipe_sink.insights.queries import CALL_EXPORT_COLUMNS, CallFilters, InsightsQueries
from callpipe_sink.insights.stats import two_proportion_z
from callpipe_sink.lifecycle import CallStatusQueries
from callpipe_sink.lifecycle.erasure import Eraser
from callpipe_sink.settings import InsightsSettings
from callpipe_sink.warehouse import Warehouse

__all__ = ["create_app"]

_log = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).resolve().parent / "static"
_TOKEN = re.compile(r"[0-9a-z]+")
_LABEL = LABEL_PATTERN  # the same pattern ingest enforces on agent_id/queue
Label = Annotated[str | None, Query(pattern=_LABEL, description="Exact value of the column.")]
Days = Annotated[int, Query(ge=1, le=366, description="Window ending now, in days (unless since is given).")]


def _now() -> datetime:
    return datetime.now(UTC)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return _utc(value).isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and value != value:  # NaN (avg of nothing) is not JSON
        return None
    return value


def _json(value: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = _jsonable(value)
    return out


def _csv_cell(value: Any) -> str:
    """One CSV cell: lists joined with '; ', datetimes in ISO 8601, and a leading ' on text a
    spreadsheet would run as a formula (CSV injection: summaries and agent ids come from calls)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return _utc(value).isoformat()
    if isinstance(value, list | tuple):
        value = "; ".join(str(v) for v in value)
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def create_app(
    warehouse: Warehouse,
    settings: InsightsSettings,
    *,
    clock: Any = _now,
    eraser: Eraser | None = None,
    recordings: RecordingStore | None = None,
    reprocess: ReprocessJobs | None = None,
) -> FastAPI:
    """Build the app; ``clock`` is injectable so tests can pin "now" to seeded data; ``eraser``
    (warehouse + recording store) serves the admin erasure endpoint; ``recordings`` serves a
    call's audio for playback."""
    docs = settings.docs_enabled
    app = FastAPI(
        title="callpipe insights",
        version="1",
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.add_middleware(SecurityHeaders, static_prefix="/static/")
    queries = InsightsQueries(warehouse)
    quality = QualityQueries(warehouse)
    status = CallStatusQueries(warehouse)
    authenticator = BearerAuthenticator(
        {Scope.READ: settings.token, Scope.ADMIN: settings.admin_token}, settings.oidc
    )
    open_reads = Scope.READ not in authenticator.configured  # INSIGHTS_ALLOW_NO_TOKEN=true only

    def require_read(request: Request) -> None:
        if open_reads:
            return
        try:
            authenticator.authorize(request.headers.get("authorization"), Scope.READ)
        except AuthError as exc:
            raise HTTPException(exc.status, exc.reason, headers=exc.headers) from exc

    auth = [Depends(require_read)]

    @app.exception_handler(CallpipeError)
    def _warehouse_error(request: Request, exc: CallpipeError) -> JSONResponse:
        status = 503 if isinstance(exc, DependencyUnavailableError) else 500
        _log.error("warehouse error on %s: %s", request.url.path, exc, exc_info=exc)
        return JSONResponse({"detail": f"warehouse error: {type(exc).__name__}"}, status_code=status)

    def window(days: int) -> tuple[datetime, datetime]:
        until = _utc(clock())
        return until - timedelta(days=days), until

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> JSONResponse:
        ok = warehouse.ping()
        return JSONResponse({"warehouse": ok}, status_code=200 if ok else 503)

    def call_filters(
        since: Annotated[datetime | None, Query(description="Calls started at or after (ISO 8601).")] = None,
        until: Annotated[datetime | None, Query(description="Calls started before (ISO 8601).")] = None,
        intent: Label = None,
        queue: Label = None,
        agent_id: Label = None,
        topic: Label = None,
        category: Label = None,
        sentiment: Literal["positive", "negative", "neutral", "mixed"] | None = None,
        escalation_risk: Literal["low", "medium", "high"] | None = None,
        churn_risk: Literal["low", "medium", "high"] | None = None,
        min_satisfaction: Annotated[int | None, Query(ge=1, le=10)] = None,
        max_satisfaction: Annotated[int | None, Query(ge=1, le=10)] = None,
    ) -> CallFilters:
        """The one call filter of the list and of every aggregate panel (422 with a reason)."""
        for name, value in (("since", since), ("until", until)):
            if value is not None and not date_in_window(_utc(value), _utc(clock())):
                raise HTTPException(422, f"{name} must lie between {EARLIEST_CALL.date()} and now + 1 day")
        if since is not None and until is not None and _utc(since) >= _utc(until):
            raise HTTPException(422, "since must be before until")
        if (
            min_satisfaction is not None
            and max_satisfaction is not None
            and min_satisfaction > max_satisfaction
        ):
            raise HTTPException(422, "min_satisfaction must not exceed max_satisfaction")
        return CallFilters(
            since=None if since is None else _utc(since),
            until=None if until is None else _utc(until),
            intent=intent,
            queue=queue,
            agent_id=agent_id,
            sentiment=sentiment,
            escalation_risk=escalation_risk,
            churn_risk=churn_risk,
            min_satisfaction=min_satisfaction,
            max_satisfaction=max_satisfaction,
            topic=topic,
            category=category,
        )

    # One dependency object for every endpoint that takes the call filter (FastAPI resolves it per
    # request; an annotation naming this closure could not be resolved under postponed annotations).
    filtered = Depends(call_filters)

    def windowed(filters: CallFilters, days: int) -> tuple[CallFilters, datetime, datetime]:
        """The filter with its window made explicit, and that window: since/until when given,
        else the last ``days`` from the start of an hour (the rollups' grain), so that a panel
        read from the rollups and the call list count exactly the same calls."""
        until = filters.until or _utc(clock())
        since = filters.since or (until - timedelta(days=days)).replace(minute=0, second=0, microsecond=0)
        return replace(filters, since=since, until=until), since, until

    @app.get("/insights", dependencies=auth)
    def insights(
        filters: CallFilters = filtered,
        days: Days = 7,
        top: Annotated[int, Query(ge=1, le=100)] = 10,
    ) -> dict[str, Any]:
        f, since, until = windowed(filters, days)
        if f.narrowed:
            intents, topics, competitors = queries.summary_of_calls(f, top)
        else:
            intents, topics, competitors = queries.summary(since, until, f.queue, top)
        return _json(
            {
                "since": since,
                "until": until,
                "filtered": f.narrowed,
                "total_calls": sum(int(i["calls"]) for i in intents),
                "dead_lettered_calls": status.failures(since, until, 0)[0],
                "intents": intents,
                "topics": topics,
                "competitors": competitors,
            }
        )

    @app.get("/trends", dependencies=auth)
    def trends(
        recent_hours: Annotated[int, Query(ge=1, le=24 * 30, description="Recent window, hours.")] = 24,
        baseline_days: Annotated[int, Query(ge=1, le=365, description="Baseline before it, days.")] = 28,
        alpha: Annotated[float, Query(gt=0, lt=0.5, description="Family-wise significance level.")] = 0.01,
        min_calls: Annotated[int, Query(ge=1, le=100_000, description="Least recent calls of a label.")] = 5,
        queue: Label = None,
    ) -> dict[str, Any]:
        until = _utc(clock())
        recent_start = until - timedelta(hours=recent_hours)
        baseline_start = recent_start - timedelta(days=baseline_days)
        results: list[dict[str, Any]] = []
        # Every call has exactly one intent ('' when there was no analysis), so the intent counts
        # also give the calls per window, the denominator for topics as well.
        counts = queries.label_windows(baseline_start, recent_start, until, queue)
        n1 = sum(x1 for (kind, _), (x1, _) in counts.items() if kind == "intent")
        n2 = sum(x2 for (kind, _), (_, x2) in counts.items() if kind == "intent")
        if n1 > 0 and n2 > 0:
            for (kind, label), (x1, x2) in counts.items():
                if kind == "intent" and not label:
                    continue
                test = two_proportion_z(x1, n1, x2, n2)
                results.append(
                    {
                        "kind": kind,
                        "label": label,
                        "recent_calls": x1,
                        "baseline_calls": x2,
                        "recent_share": round(test.recent_share, 5),
                        "baseline_share": round(test.baseline_share, 5),
                        "lift": None if test.lift is None else round(test.lift, 3),
                        "z": round(test.z, 3),
                        "p_value": test.p_value,
                    }
                )
        windows = {"recent_calls": n1, "baseline_calls": n2}
        tested = max(len(results), 1)
        threshold = alpha / tested  # Bonferroni over every label tested
        for r in results:
            r["significant"] = r["p_value"] < threshold and r["recent_calls"] >= min_calls
        results.sort(key=lambda r: r["z"], reverse=True)
        return _json(
            {
                "test": "two-proportion z-test, one-sided (share rose), Bonferroni-corrected",
                "recent": {"since": recent_start, "until": until},
                "baseline": {"since": baseline_start, "until": recent_start},
                **windows,
                "alpha": alpha,
                "threshold": threshold,
                "rising": [r for r in results if r["significant"]],
                "tested": results,
            }
        )

    @app.get("/timeseries", dependencies=auth)
    def timeseries(
        filters: CallFilters = filtered,
        days: Days = 7,
        bucket: Literal["hour", "day"] = "hour",
    ) -> dict[str, Any]:
        f, since, until = windowed(filters, days)
        bucket_s = 3600 if bucket == "hour" else 86400
        if f.narrowed:
            points = queries.timeseries_of_calls(f, bucket_s)
        else:
            points = queries.timeseries(since, until, f.queue, bucket_s)
        return _json({"since": since, "until": until, "bucket": bucket, "points": points})

    @app.get("/breakdown", dependencies=auth)
    def breakdown(
        filters: CallFilters = filtered,
        days: Days = 7,
        agents: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> dict[str, Any]:
        f, since, until = windowed(filters, days)
        per_agent = (
            queries.agents_of_calls(f, agents)
            if f.narrowed
            else queries.agents(since, until, f.queue, agents)
        )
        return _json({"roles": queries.role_metrics(f), "agents": per_agent})

    @app.get("/calls", dependencies=auth)
    def calls(
        filters: CallFilters = filtered,
        days: Annotated[
            int | None, Query(ge=1, le=366, description="Last N days unless since is given.")
        ] = None,
        limit: Annotated[int, Query(ge=1)] = 50,
        offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
    ) -> dict[str, Any]:
        if limit > settings.max_page_size:
            raise HTTPException(422, f"limit must be at most {settings.max_page_size}")
        if days is not None:
            filters = windowed(filters, days)[0]
        total, items = queries.calls(filters, limit, offset)
        next_offset = offset + len(items) if offset + len(items) < total else None
        return _json(
            {"total": total, "limit": limit, "offset": offset, "next_offset": next_offset, "items": items}
        )

    @app.get("/calls.csv", dependencies=auth)
    def calls_csv(
        filters: CallFilters = filtered,
        days: Annotated[int | None, Query(ge=1, le=366, description="As for /calls.")] = None,
    ) -> Response:
        """The filtered call list as CSV (newest first, at most ``max_export_rows``), for a
        supervisor's spreadsheet; the row count and whether it was cut are in headers."""
        if days is not None:
            filters = windowed(filters, days)[0]
        total, items = queries.calls(filters, settings.max_export_rows, 0)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(CALL_EXPORT_COLUMNS)
        for item in items:
            writer.writerow([_csv_cell(item.get(column)) for column in CALL_EXPORT_COLUMNS])
        return Response(
            out.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": 'attachment; filename="calls.csv"',
                "Cache-Control": "no-store",
                "X-Total-Count": str(total),
                "X-Truncated": "true" if total > len(items) else "false",
            },
        )

    app.include_router(admin_router(eraser, authenticator, reprocess))
    app.include_router(
        quality_router(quality, dependencies=auth, call_filter=filtered, window=windowed, jsonable=_json)
    )
    app.include_router(
        lifecycle_router(
            status,
            dependencies=auth,
            clock=lambda: _utc(clock()),
            jsonable=_json,
            call_exists=lambda call_id: queries.call(call_id) is not None,
        )
    )

    app.include_router(media_router(recordings, dependencies=auth, call_row=queries.call))
    alert_queries = AlertQueries(warehouse)

    @app.get("/alerts", dependencies=auth)
    def alerts(
        days: Annotated[int, Query(ge=1, le=366, description="Windows ending within the last N days.")] = 7,
        severity: Annotated[str | None, Query(pattern="^(info|warning|critical)$")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> dict[str, Any]:
        until = _utc(clock())
        since = until - timedelta(days=days)
        return _json(
            {"since": since, "until": until, "items": alert_queries.recent(since, until, limit, severity)}
        )

    @app.get("/calls/{call_id}", dependencies=auth)
    def call(call_id: Annotated[str, PathParam(min_length=1, max_length=256)]) -> dict[str, Any]:
        row = queries.call(call_id)
        if row is None:
            raise HTTPException(404, f"no call {call_id!r}")
        transcript = queries.transcript(call_id, _utc(row["analyzed_at"]))
        # Categories (with evidence pointing into the transcript) and scorecards of the current analysis.
        assessed = quality.of_call(call_id)
        current = assessed is not None and _utc(assessed.pop("analyzed_at")) == _utc(row["analyzed_at"])
        return _json(
            {
                "call": row,
                "transcript": transcript,
                "categories": assessed["categories"] if current and assessed else [],
                "scorecards": assessed["scorecards"] if current and assessed else [],
            }
        )

    @app.get("/search", dependencies=auth)
    def search(
        q: Annotated[str, Query(min_length=1, max_length=200, description="Words that must all occur.")],
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        days: Annotated[int | None, Query(ge=1, le=3660)] = None,
    ) -> dict[str, Any]:
        tokens = _TOKEN.findall(q.lower())
        if not tokens:
            raise HTTPException(422, "q has no searchable word (letters or digits)")
        if len(tokens) > 10:
            raise HTTPException(422, "q may hold at most 10 words")
        since = None if days is None else window(days)[0]
        return _json({"q": q, "tokens": tokens, "hits": queries.search(tokens, limit, since)})

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
