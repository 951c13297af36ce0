"""Every SQL statement of the insights API, parameterized ({name:Type}) — no value is spliced in.

Aggregates over time read the hourly rollups (AggregatingMergeTree, a few thousand rows per week)
so they stay fast at millions of calls; call lists and single calls read ``calls FINAL`` so a
re-analyzed call shows its current analysis only. The rollups are keyed by hour, intent and queue
only: when a supervisor narrows the view further (agent, sentiment, risk, satisfaction, topic),
the same aggregates are computed from ``calls FINAL`` with the call list's own filter, so every
panel and the list always count the same calls.
"""

# S608 flags SQL assembled from string fragments. Here every fragment is a constant of this
# module (column lists, the window clause, filter clauses chosen from a fixed set); values are
# always bound as {name:Type} server-side parameters.
# ruff: noqa: S608

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from callpipe_sink.insights.quality_queries import CATEGORY_FILTER_SQL
from callpipe_sink.warehouse import Warehouse

__all__ = ["CALL_EXPORT_COLUMNS", "CallFilters", "InsightsQueries"]

_WINDOW = "hour >= {since:DateTime64(3, 'UTC')} AND hour < {until:DateTime64(3, 'UTC')}"
_SCOPE = "({queue:String} = '' OR queue = {queue:String})"


@dataclass(frozen=True)
class CallFilters:
    since: datetime | None = None
    until: datetime | None = None
    intent: str | None = None
    queue: str | None = None
    agent_id: str | None = None
    sentiment: str | None = None
    escalation_risk: str | None = None
    churn_risk: str | None = None
    min_satisfaction: int | None = None
    max_satisfaction: int | None = None
    topic: str | None = None
    category: str | None = None

    @property
    def narrowed(self) -> bool:
        """Whether a filter the hourly rollups cannot answer is set (beyond window and queue)."""
        return any(
            getattr(self, name) is not None
            for name in (
                "intent",
                "agent_id",
                "sentiment",
                "escalation_risk",
                "churn_risk",
                "min_satisfaction",
                "max_satisfaction",
                "topic",
                "category",
            )
        )

    def sql(self) -> tuple[str, dict[str, Any]]:
        clauses: list[str] = []
        params: dict[str, Any] = {}
        if self.since is not None:
            clauses.append("started_at >= {since:DateTime64(3, 'UTC')}")
            params["since"] = self.since
        if self.until is not None:
            clauses.append("started_at < {until:DateTime64(3, 'UTC')}")
            params["until"] = self.until
        for column in ("intent", "queue", "agent_id", "sentiment", "escalation_risk", "churn_risk"):
            value = getattr(self, column)
            if value is not None:
                clauses.append(f"{column} = {{{column}:String}}")
                params[column] = value
        if self.min_satisfaction is not None:
            clauses.append("satisfaction_score >= {min_sat:UInt8}")
            params["min_sat"] = self.min_satisfaction
        if self.max_satisfaction is not None:
            clauses.append("satisfaction_score <= {max_sat:UInt8}")
            params["max_sat"] = self.max_satisfaction
        if self.topic is not None:
            clauses.append("has(key_topics, {topic:String})")
            params["topic"] = self.topic
        if self.category is not None:
            clauses.append(CATEGORY_FILTER_SQL)
            params["category"] = self.category
        return (" AND ".join(clauses) or "1"), params


_CALL_LIST_COLUMNS = (
    "call_id, started_at, agent_id, queue, direction, status, intent, sentiment, satisfaction_score, "
    "escalation_risk, churn_risk, key_topics, duration_s, summary"
)


# The call list's columns, in order: the CSV export writes exactly these.
CALL_EXPORT_COLUMNS = tuple(c.strip() for c in _CALL_LIST_COLUMNS.split(","))


class InsightsQueries:
    def __init__(self, warehouse: Warehouse) -> None:
        self._wh = warehouse

    def window(self, since: datetime, until: datetime, queue: str | None) -> dict[str, Any]:
        return {"since": since, "until": until, "queue": queue or ""}

    def summary(
        self, since: datetime, until: datetime, queue: str | None, top: int
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
        """Intents, top topics and top competitors of a window in one round trip (UNION ALL
        branches run in parallel in ClickHouse; three separate queries cost three latencies)."""
        rows = self._wh.rows(
            "SELECT 'intent' AS kind, intent AS label, countMerge(calls) AS n, "
            "round(avgMerge(avg_satisfaction), 2) AS sat, countIfMerge(escalations) AS esc, "
            "countIfMerge(churns) AS churn, toUInt64(0) AS mentions "
            f"FROM {{db:Identifier}}.calls_hourly WHERE {_WINDOW} AND {_SCOPE} GROUP BY intent "
            "UNION ALL SELECT * FROM ("
            "SELECT 'topic' AS kind, topic AS label, countMerge(calls) AS n, "
            "CAST(NULL, 'Nullable(Float64)') AS sat, "
            "toUInt64(0) AS esc, toUInt64(0) AS churn, toUInt64(0) AS mentions "
            f"FROM {{db:Identifier}}.topics_hourly WHERE {_WINDOW} AND {_SCOPE} GROUP BY topic "
            "ORDER BY n DESC, label LIMIT {top:UInt32}) "
            "UNION ALL SELECT * FROM ("
            "SELECT 'competitor' AS kind, competitor AS label, countMerge(calls) AS n, "
            "CAST(NULL, 'Nullable(Float64)') AS sat, toUInt64(0) AS esc, toUInt64(0) AS churn, "
            "sumMerge(mentions) AS mentions "
            f"FROM {{db:Identifier}}.competitors_hourly WHERE {_WINDOW} AND {_SCOPE} GROUP BY competitor "
            "ORDER BY mentions DESC, label LIMIT {top:UInt32})",
            {**self.window(since, until, queue), "top": top},
        )
        intents = sorted(
            (
                {
                    "intent": label,
                    "calls": int(n),
                    "avg_satisfaction": sat,
                    "escalations": int(esc),
                    "churn_risks": int(churn),
                }
                for kind, label, n, sat, esc, churn, _ in rows
                if kind == "intent"
            ),
            key=lambda r: (-r["calls"], r["intent"]),
        )
        topics = sorted(
            ({"topic": label, "calls": int(n)} for kind, label, n, *_ in rows if kind == "topic"),
            key=lambda r: (-r["calls"], r["topic"]),
        )
        competitors = sorted(
            (
                {"competitor": label, "calls": int(n), "mentions": int(m)}
                for kind, label, n, _, _, _, m in rows
                if kind == "competitor"
            ),
            key=lambda r: (-r["mentions"], r["competitor"]),
        )
        return intents, topics, competitors

    def timeseries(
        self, since: datetime, until: datetime, queue: str | None, bucket_s: int
    ) -> list[dict[str, Any]]:
        return self._wh.dicts(
            "SELECT toStartOfInterval(hour, toIntervalSecond({bucket:UInt32})) AS t, intent, "
            "countMerge(calls) AS calls, avgMerge(avg_satisfaction) AS avg_satisfaction, "
            "countIfMerge(escalations) AS escalations, countIfMerge(churns) AS churn_risks, "
            "countIfMerge(positive) AS positive, "
            "countIfMerge(negative) AS negative, countIfMerge(neutral) AS neutral, "
            "countIfMerge(mixed) AS mixed "
            f"FROM {{db:Identifier}}.calls_hourly WHERE {_WINDOW} AND {_SCOPE} "
            "GROUP BY t, intent ORDER BY t, intent",
            {**self.window(since, until, queue), "bucket": bucket_s},
        )

    def label_windows(
        self, baseline_start: datetime, recent_start: datetime, until: datetime, queue: str | None
    ) -> dict[tuple[str, str], tuple[int, int]]:
        """Calls per intent and per topic in the baseline window [baseline_start, recent_start)
        and the recent window [recent_start, until), keyed by (kind, label); one round trip."""
        recent = "hour >= {recent:DateTime64(3, 'UTC')}"
        rows = self._wh.rows(
            f"SELECT 'intent', intent, countMergeIf(calls, {recent}), countMergeIf(calls, NOT ({recent})) "
            f"FROM {{db:Identifier}}.calls_hourly WHERE {_WINDOW} AND {_SCOPE} GROUP BY intent "
            f"UNION ALL SELECT 'topic', topic, countMergeIf(calls, {recent}), "
            f"countMergeIf(calls, NOT ({recent})) "
            f"FROM {{db:Identifier}}.topics_hourly WHERE {_WINDOW} AND {_SCOPE} GROUP BY topic",
            {**self.window(baseline_start, until, queue), "recent": recent_start},
        )
        return {(str(kind), str(label)): (int(x1), int(x2)) for kind, label, x1, x2 in rows}

    def role_metrics(self, filters: CallFilters) -> dict[str, Any]:
        where, params = filters.sql()
        rows = self._wh.dicts(
            "SELECT avg(caller_sentiment_score) AS caller_sentiment, "
            "avg(agent_sentiment_score) AS agent_sentiment, "
            "avg(caller_talk_share) AS caller_talk_share, avg(agent_talk_share) AS agent_talk_share, "
            "avg(silence_share) AS silence_share, avg(caller_interruptions) AS caller_interruptions, "
            "avg(agent_interruptions) AS agent_interruptions "
            f"FROM {{db:Identifier}}.calls FINAL WHERE {where}",
            params,
        )
        return rows[0] if rows else {}

    def summary_of_calls(
        self, filters: CallFilters, top: int
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
        """What :meth:`summary` gives, computed from ``calls FINAL`` under any call filter."""
        where, params = filters.sql()
        intents = self._wh.dicts(
            "SELECT intent, count() AS calls, round(avg(satisfaction_score), 2) AS avg_satisfaction, "
            "countIf(escalation_risk = 'high') AS escalations, countIf(churn_risk = 'high') AS churn_risks "
            f"FROM {{db:Identifier}}.calls FINAL WHERE {where} GROUP BY intent ORDER BY calls DESC, intent",
            params,
        )
        topics = self._wh.dicts(
            "SELECT topic, count() AS calls "
            f"FROM {{db:Identifier}}.calls FINAL ARRAY JOIN key_topics AS topic WHERE {where} "
            "GROUP BY topic ORDER BY calls DESC, topic LIMIT {top:UInt32}",
            {**params, "top": top},
        )
        competitors = self._wh.dicts(
            "SELECT competitor, count() AS calls, sum(n) AS mentions FROM {db:Identifier}.calls FINAL "
            f"ARRAY JOIN competitors AS competitor, competitor_counts AS n WHERE {where} "
            "GROUP BY competitor ORDER BY mentions DESC, competitor LIMIT {top:UInt32}",
            {**params, "top": top},
        )
        return intents, topics, competitors

    def timeseries_of_calls(self, filters: CallFilters, bucket_s: int) -> list[dict[str, Any]]:
        """What :meth:`timeseries` gives, computed from ``calls FINAL`` under any call filter."""
        where, params = filters.sql()
        return self._wh.dicts(
            "SELECT toStartOfInterval(started_at, toIntervalSecond({bucket:UInt32})) AS t, intent, "
            "count() AS calls, avg(satisfaction_score) AS avg_satisfaction, "
            "countIf(escalation_risk = 'high') AS escalations, countIf(churn_risk = 'high') AS churn_risks, "
            "countIf(sentiment = 'positive') AS positive, countIf(sentiment = 'negative') AS negative, "
            "countIf(sentiment = 'neutral') AS neutral, countIf(sentiment = 'mixed') AS mixed "
            f"FROM {{db:Identifier}}.calls FINAL WHERE {where} GROUP BY t, intent ORDER BY t, intent",
            {**params, "bucket": bucket_s},
        )

    def agents_of_calls(self, filters: CallFilters, limit: int) -> list[dict[str, Any]]:
        """What :meth:`agents` gives, computed from ``calls FINAL`` under any call filter."""
        where, params = filters.sql()
        return self._wh.dicts(
            "SELECT agent_id, count() AS calls, round(avg(satisfaction_score), 2) AS avg_satisfaction, "
            "countIf(escalation_risk = 'high') AS escalations, countIf(churn_risk = 'high') AS churn_risks, "
            "countIf(sentiment = 'negative') AS negative, "
            "round(avg(caller_sentiment_score), 3) AS avg_caller_sentiment, "
            "round(avg(agent_talk_share), 3) AS avg_agent_talk_share, "
            "round(sum(duration_s) / 3600, 2) AS hours "
            f"FROM {{db:Identifier}}.calls FINAL WHERE {where} "
            "GROUP BY agent_id ORDER BY calls DESC, agent_id LIMIT {limit:UInt32}",
            {**params, "limit": limit},
        )

    def agents(self, since: datetime, until: datetime, queue: str | None, limit: int) -> list[dict[str, Any]]:
        return self._wh.dicts(
            "SELECT agent_id, countMerge(calls) AS calls, "
            "round(avgMerge(avg_satisfaction), 2) AS avg_satisfaction, "
            "countIfMerge(escalations) AS escalations, countIfMerge(churns) AS churn_risks, "
            "countIfMerge(negative) AS negative, "
            "round(avgMerge(avg_caller_sentiment), 3) AS avg_caller_sentiment, "
            "round(avgMerge(avg_agent_talk_share), 3) AS avg_agent_talk_share, "
            "round(sumMerge(duration_s) / 3600, 2) AS hours "
            f"FROM {{db:Identifier}}.agents_hourly WHERE {_WINDOW} AND {_SCOPE} "
            "GROUP BY agent_id ORDER BY calls DESC, agent_id LIMIT {limit:UInt32}",
            {**self.window(since, until, queue), "limit": limit},
        )

    def calls(self, filters: CallFilters, limit: int, offset: int) -> tuple[int, list[dict[str, Any]]]:
        where, params = filters.sql()
        total = self._wh.rows(f"SELECT count() FROM {{db:Identifier}}.calls FINAL WHERE {where}", params)
        items = self._wh.dicts(
            f"SELECT {_CALL_LIST_COLUMNS} FROM {{db:Identifier}}.calls FINAL WHERE {where} "
            "ORDER BY started_at DESC, call_id LIMIT {limit:UInt32} OFFSET {offset:UInt32}",
            {**params, "limit": limit, "offset": offset},
        )
        return int(total[0][0]), items

    def call(self, call_id: str) -> dict[str, Any] | None:
        rows = self._wh.dicts(
            "SELECT * EXCEPT inserted_at FROM {db:Identifier}.calls FINAL WHERE call_id = {call_id:String}",
            {"call_id": call_id},
        )
        return rows[0] if rows else None

    def transcript(self, call_id: str, analyzed_at: datetime) -> list[dict[str, Any]]:
        return self._wh.dicts(
            "SELECT idx, role, speaker, channel, start_s, end_s, text, sentiment "
            "FROM {db:Identifier}.utterances FINAL WHERE call_id = {call_id:String} "
            "AND analyzed_at = {analyzed_at:DateTime64(6, 'UTC')} ORDER BY idx",
            {"call_id": call_id, "analyzed_at": analyzed_at},
        )

    def search(self, tokens: list[str], limit: int, since: datetime | None) -> list[dict[str, Any]]:
        # One hasToken() per word (each can use the token bloom-filter index); the words are bound
        # as parameters t0, t1, … — only the placeholders are generated here.
        conditions = " AND ".join(f"hasToken(lower(text), {{t{i}:String}})" for i in range(len(tokens)))
        words = {f"t{i}": token for i, token in enumerate(tokens)}
        return self._wh.dicts(
            "SELECT call_id, idx, role, start_s, text, started_at, analyzed_at "
            "FROM {db:Identifier}.utterances "
            f"WHERE {conditions} "
            "AND started_at >= {since:DateTime64(3, 'UTC')} "
            "ORDER BY started_at DESC, call_id, idx, analyzed_at DESC "
            "LIMIT 1 BY call_id, idx LIMIT {limit:UInt32}",
            {**words, "limit": limit, "since": since or datetime(1970, 1, 1)},
        )
