"""Recompute the hourly rollups of the hours a re-analysis touched, from ``calls FINAL``.

The rollup views on ``calls`` add every row inserted there, so a re-analysed call (callpipe
reprocess: a newer ``analyzed_at`` replacing the stored row) would be counted twice, the second
time maybe under another intent. Migration 0008 marks the hours of such replacements (old and
new hour) in ``rollup_dirty_hours``; after each written batch the sink calls
:meth:`RollupCorrector.correct`, which deletes those hours from every rollup and inserts them
again aggregated from ``calls FINAL`` (one row per call, its current version). Live calls cost
one lookup of an empty key-value table per batch; the rewrite runs only when hours are marked.

Exact with one writer per database (the sink's batches are serial). With several sink replicas a
live call inserted into a marked hour between the DELETE and the INSERT below would be counted
twice in that hour; the next re-analysis touching the hour puts it right.
"""

# S608: the SQL below is assembled from this module's constants (table names, SELECTs); the hours
# are bound as a parameter.
# ruff: noqa: S608
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from callpipe_sink.warehouse import Warehouse

__all__ = ["ROLLUP_RECOMPUTE", "ROLLUP_WRITE_LOCK", "CorrectionResult", "RollupCorrector"]

log = logging.getLogger(__name__)

# The sink's batches and an erasure served by the same process both change rollups: a batch
# inserted between a recompute's DELETE and INSERT of its hour would be counted twice. Holders:
# ``SinkWriter.write`` (insert + correct) and ``Eraser`` (delete rows + correct).
ROLLUP_WRITE_LOCK = threading.Lock()

_HOURS = "toStartOfHour(started_at) IN {hours:Array(DateTime('UTC'))}"

# The SELECT of each rollup view (0004, 0005), reading calls FINAL instead of the inserted block.
# A unit test checks that a recompute equals what the views counted for calls analysed once.
ROLLUP_RECOMPUTE: dict[str, str] = {
    "calls_hourly": (
        "SELECT toStartOfHour(started_at) AS hour, intent, queue, countState() AS calls, "
        "avgState(satisfaction_score) AS avg_satisfaction, "
        "countIfState(toUInt8(escalation_risk = 'high')) AS escalations, "
        "countIfState(toUInt8(churn_risk = 'high')) AS churns, "
        "countIfState(toUInt8(sentiment = 'positive')) AS positive, "
        "countIfState(toUInt8(sentiment = 'negative')) AS negative, "
        "countIfState(toUInt8(sentiment = 'neutral')) AS neutral, "
        "countIfState(toUInt8(sentiment = 'mixed')) AS mixed, "
        "avgState(silence_share) AS avg_silence_share, sumState(duration_s) AS duration_s "
        f"FROM {{db:Identifier}}.calls FINAL WHERE {_HOURS} GROUP BY hour, intent, queue"
    ),
    "agents_hourly": (
        "SELECT toStartOfHour(started_at) AS hour, agent_id, queue, countState() AS calls, "
        "avgState(satisfaction_score) AS avg_satisfaction, "
        "countIfState(toUInt8(escalation_risk = 'high')) AS escalations, "
        "countIfState(toUInt8(churn_risk = 'high')) AS churns, "
        "countIfState(toUInt8(sentiment = 'negative')) AS negative, "
        "avgState(caller_sentiment_score) AS avg_caller_sentiment, "
        "avgState(agent_talk_share) AS avg_agent_talk_share, sumState(duration_s) AS duration_s "
        f"FROM {{db:Identifier}}.calls FINAL WHERE {_HOURS} GROUP BY hour, agent_id, queue"
    ),
    "topics_hourly": (
        "SELECT toStartOfHour(started_at) AS hour, topic, queue, countState() AS calls "
        f"FROM {{db:Identifier}}.calls FINAL ARRAY JOIN arrayDistinct(key_topics) AS topic "
        f"WHERE {_HOURS} GROUP BY hour, topic, queue"
    ),
    "competitors_hourly": (
        "SELECT toStartOfHour(started_at) AS hour, competitor, queue, countState() AS calls, "
        "sumState(mentions) AS mentions "
        "FROM {db:Identifier}.calls FINAL "
        "ARRAY JOIN competitors AS competitor, competitor_counts AS mentions "
        f"WHERE {_HOURS} GROUP BY hour, competitor, queue"
    ),
}


@dataclass(frozen=True)
class CorrectionResult:
    hours: int = 0
    seconds: float = 0.0


class RollupCorrector:
    def __init__(self, warehouse: Warehouse) -> None:
        self._wh = warehouse

    def correct(self) -> CorrectionResult:
        """Recompute every marked hour; safe to repeat (a crash midway leaves the marks)."""
        started = time.perf_counter()
        marked = self._wh.rows("SELECT hour, marked_at FROM {db:Identifier}.rollup_dirty_hours")
        if not marked:
            return CorrectionResult()
        hours = sorted({row[0] for row in marked})
        params = {"hours": hours}
        for table, select in ROLLUP_RECOMPUTE.items():
            self._wh.command(
                f"ALTER TABLE {{db:Identifier}}.{table} DELETE "
                "WHERE hour IN {hours:Array(DateTime('UTC'))} SETTINGS mutations_sync = 2",
                params,
            )
            # The SELECT lists its columns in the table's order (INSERT … SELECT maps by position).
            self._wh.command(f"INSERT INTO {{db:Identifier}}.{table} {select}", params)
        # Only the marks seen above: an hour marked meanwhile (newer marked_at) stays for next time.
        latest = max(row[1] for row in marked)
        self._wh.command(
            "DELETE FROM {db:Identifier}.rollup_dirty_hours "
            "WHERE hour IN {hours:Array(DateTime('UTC'))} AND marked_at <= {latest:DateTime64(3, 'UTC')}",
            {"hours": hours, "latest": latest},
        )
        result = CorrectionResult(len(hours), time.perf_counter() - started)
        log.info("rollups recomputed", extra={"hours": result.hours, "seconds": round(result.seconds, 4)})
        return result
