"""SQL of the categories and QA scorecard endpoints, parameterized ({name:Type}), over
``call_quality FINAL`` (one current row per call, migration 0009): a redelivered or re-analysed
call is counted once, with its current categories and scores.
"""

# Every fragment spliced below is a constant of this module; values are bound server-side.
# ruff: noqa: S608

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from callpipe_sink.warehouse import Warehouse

if TYPE_CHECKING:  # queries.py imports this module (CATEGORY_FILTER_SQL)
    from callpipe_sink.insights.queries import CallFilters

__all__ = ["CATEGORY_FILTER_SQL", "QualityQueries"]

# For the call list: the calls whose current analysis matched {category:String}.
CATEGORY_FILTER_SQL = (
    "call_id IN (SELECT call_id FROM {db:Identifier}.call_quality FINAL "
    "WHERE has(categories, {category:String}))"
)

_RANGE = "started_at >= {since:DateTime64(3, 'UTC')} AND started_at < {until:DateTime64(3, 'UTC')}"
_BUCKETS = {
    "hour": "toStartOfHour(started_at)",
    "day": "toStartOfDay(started_at)",
    "week": "toMonday(started_at)",
    # One period for the whole window, named by its start: an agent's totals over the range.
    "all": "{since:DateTime64(3, 'UTC')}",
}


def _scope(filters: CallFilters) -> tuple[str, dict[str, Any]]:
    """The page's one call filter over ``call_quality``: window, queue and agent on its own
    columns, category with ``has()``; anything else (intent, sentiment, risks, satisfaction,
    topic) through ``calls FINAL`` inside the same window, so these panels count the calls the
    list shows. ``filters`` carries its window (the app makes since/until explicit)."""
    clauses = [_RANGE]
    params: dict[str, Any] = {"since": filters.since, "until": filters.until}
    for column in ("queue", "agent_id"):
        value = getattr(filters, column)
        if value is not None:
            clauses.append(f"{column} = {{{column}:String}}")
            params[column] = value
    if filters.category is not None:
        clauses.append("has(categories, {category:String})")
        params["category"] = filters.category
    rest = replace(filters, queue=None, agent_id=None, category=None)
    if rest.narrowed:
        where, more = rest.sql()  # binds since/until under the same names and values
        clauses.append(f"call_id IN (SELECT call_id FROM {{db:Identifier}}.calls FINAL WHERE {where})")
        params.update(more)
    return " AND ".join(clauses), params


class QualityQueries:
    def __init__(self, warehouse: Warehouse) -> None:
        self._wh = warehouse

    def categories(
        self, filters: CallFilters, bucket: str, *, series: bool = True
    ) -> tuple[int, list[dict[str, Any]], list[dict[str, Any]]]:
        """(analysed calls in scope, totals per category with share, counts per category per
        bucket: empty unless ``series``)."""
        where, params = _scope(filters)
        calls = int(
            self._wh.rows(
                f"SELECT count() FROM {{db:Identifier}}.call_quality FINAL WHERE {where} AND status = 'ok'",
                params,
            )[0][0]
        )
        totals = self._wh.dicts(
            "SELECT category, count() AS calls, round(calls / greatest({n:UInt64}, 1), 4) AS share "
            f"FROM {{db:Identifier}}.call_quality FINAL ARRAY JOIN categories AS category "
            f"WHERE {where} GROUP BY category ORDER BY calls DESC, category",
            {**params, "n": calls},
        )
        if not series:
            return calls, totals, []
        points = self._wh.dicts(
            f"SELECT {_BUCKETS[bucket]} AS bucket, category, count() AS calls "
            f"FROM {{db:Identifier}}.call_quality FINAL ARRAY JOIN categories AS category "
            f"WHERE {where} GROUP BY bucket, category ORDER BY bucket, category",
            params,
        )
        return calls, totals, points

    def agent_scores(self, filters: CallFilters, form: str | None, bucket: str) -> list[dict[str, Any]]:
        """Per agent, form and period (day, week or the whole window): calls scored, average and
        lowest score."""
        where, params = _scope(filters)
        return self._wh.dicts(
            f"SELECT agent_id, form, {_BUCKETS[bucket]} AS period, count() AS calls, "
            "countIf(score IS NOT NULL) AS scored, round(avg(score), 1) AS avg_score, "
            # Scores are Float32 in the table: widen before rounding, or 71.4 reads back as 71.4000015.
            "round(min(toFloat64(score)), 1) AS min_score "
            "FROM {db:Identifier}.call_quality FINAL ARRAY JOIN forms AS form, scores AS score "
            f"WHERE {where} AND ({{form:String}} = '' OR form = {{form:String}}) "
            "GROUP BY agent_id, form, period ORDER BY agent_id, form, period",
            {**params, "form": form or ""},
        )

    def agent_questions(self, filters: CallFilters, form: str | None, bucket: str) -> list[dict[str, Any]]:
        """Per agent, form, period and question: pass rate and the most frequent failing reasons."""
        where, params = _scope(filters)
        return self._wh.dicts(
            f"SELECT agent_id, form, {_BUCKETS[bucket]} AS period, q.question_id AS question_id, "
            "countIf(q.passed IS NOT NULL) AS applicable, countIf(q.passed = true) AS passed, "
            "round(passed / greatest(applicable, 1), 3) AS pass_rate, "
            "topKIf(3)(q.reason, q.passed = false) AS failing_reasons "
            "FROM {db:Identifier}.call_quality FINAL ARRAY JOIN forms AS form, answers AS qs "
            "ARRAY JOIN qs AS q "
            f"WHERE {where} AND ({{form:String}} = '' OR form = {{form:String}}) "
            "GROUP BY agent_id, form, period, question_id ORDER BY agent_id, form, period, question_id",
            {**params, "form": form or ""},
        )

    def of_call(self, call_id: str) -> dict[str, Any] | None:
        """Categories with evidence and scorecards with per-question reasons of one call."""
        rows = self._wh.dicts(
            "SELECT categories, evidence, forms, scores, answers, analyzed_at "
            "FROM {db:Identifier}.call_quality FINAL WHERE call_id = {call_id:String}",
            {"call_id": call_id},
        )
        if not rows:
            return None
        row = rows[0]
        evidence_keys = ("rule", "utterance_index", "start_s", "end_s", "text")
        answer_keys = ("question_id", "weight", "passed", "points", "reason")
        return {
            "analyzed_at": row["analyzed_at"],
            "categories": [
                {"name": name, "evidence": [_record(evidence_keys, e) for e in ev]}
                for name, ev in zip(row["categories"], row["evidence"], strict=True)
            ],
            "scorecards": [
                {"form": form, "score": score, "answers": [_record(answer_keys, a) for a in ans]}
                for form, score, ans in zip(row["forms"], row["scores"], row["answers"], strict=True)
            ],
        }


def _record(keys: tuple[str, ...], value: Any) -> dict[str, Any]:
    """A named tuple as the client returns it: a dict (named) or a plain tuple, by driver version."""
    if isinstance(value, dict):
        return {k: value[k] for k in keys}
    return dict(zip(keys, value, strict=True))
