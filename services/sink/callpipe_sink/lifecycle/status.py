"""Reading ``call_events``: one call's timeline and state, and the dead-lettered calls of a window.

A call's state is its latest event (ties broken by pipeline order). A dead letter followed by a
later success (the message was replayed) therefore reads as that success, and a call stored and
then dead-lettered on a re-analysis reads as failed with the reason of that attempt.
"""

# S608: the SQL below is assembled from constants of this module only; values are bound.
# ruff: noqa: S608

from __future__ import annotations

from datetime import datetime
from typing import Any

from callpipe_sink.warehouse import Warehouse

__all__ = ["PIPELINE_ORDER", "STATE_OF_EVENT", "CallStatusQueries", "current_state"]

PIPELINE_ORDER = ("consent_declined", "received", "transcribed", "analyzed", "stored", "dead_lettered")
# What the call is doing after each event (what a user asking "where is my call" wants to read).
STATE_OF_EVENT = {
    "consent_declined": "consent_declined",
    "received": "transcribing",
    "transcribed": "analyzing",
    "analyzed": "storing",
    "stored": "stored",
    "dead_lettered": "failed",
}


def current_state(events: list[dict[str, Any]]) -> dict[str, Any]:
    """``{"state", "failed", "stage", "reason"}`` from a call's events (as returned by timeline)."""
    if not events:
        return {"state": "unknown", "failed": False, "stage": None, "reason": None}
    last = max(
        events,
        key=lambda e: (e["at"], PIPELINE_ORDER.index(e["event"]) if e["event"] in PIPELINE_ORDER else -1),
    )
    state = STATE_OF_EVENT.get(last["event"], last["event"])
    return {
        "state": state,
        "failed": state == "failed",
        "stage": last["stage"],
        "reason": last["reason"] or None,
    }


class CallStatusQueries:
    def __init__(self, warehouse: Warehouse) -> None:
        self._wh = warehouse

    def timeline(self, call_id: str) -> list[dict[str, Any]]:
        return self._wh.dicts(
            "SELECT event, stage, at, error_class, reason, attempts, source_topic "
            "FROM {db:Identifier}.call_events FINAL WHERE call_id = {call_id:String} "
            "ORDER BY at, event",
            {"call_id": call_id},
        )

    def failures(self, since: datetime, until: datetime, limit: int) -> tuple[int, list[dict[str, Any]]]:
        """Calls whose latest event in the store is a dead letter, dead-lettered in the window."""
        latest = (
            "SELECT call_id, argMax(tuple(event, stage, error_class, reason, attempts), at) AS last, "
            "max(at) AS last_at FROM {db:Identifier}.call_events FINAL GROUP BY call_id "
            "HAVING last.1 = 'dead_lettered' AND last_at >= {since:DateTime64(3, 'UTC')} "
            "AND last_at < {until:DateTime64(3, 'UTC')}"
        )
        params = {"since": since, "until": until}
        total = self._wh.rows(f"SELECT count() FROM ({latest})", params)
        if limit == 0:
            return int(total[0][0]), []
        items = self._wh.dicts(
            "SELECT call_id, last.2 AS stage, last.3 AS error_class, last.4 AS reason, "
            f"last.5 AS attempts, last_at AS dead_lettered_at FROM ({latest}) "
            "ORDER BY last_at DESC, call_id LIMIT {limit:UInt32}",
            {**params, "limit": limit},
        )
        return int(total[0][0]), items
