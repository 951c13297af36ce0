"""Event-time tumbling windows, baselines, dedup and cooldown: the alert logic, free of Kafka.

``AlertEngine.apply`` folds one call's facts into a JSON-serializable state and returns the alerts
of every window that closed. The state is one value (stored as one record in the job's changelog
topic), and it records the highest source offset applied per partition, so a replay after a crash
neither counts a call twice nor raises an alert twice: alert ids are deterministic
(rule, subject, window) and fired ids are kept.
"""

from __future__ import annotations

import hashlib
import logging
from collections import deque
from datetime import UTC, datetime
from typing import Any

from callpipe.models import AlertRaised
from callpipe_alerts.config import AgentDropRule, AlertsConfig, RateRule, SpikeRule
from callpipe_alerts.facts import CallFacts

__all__ = ["AlertEngine", "alert_id", "new_state"]

log = logging.getLogger("callpipe.alerts")

_FIRED_KEPT = 200  # recent alert ids kept for dedup (the state is one changelog record: keep it small)


def new_state() -> dict[str, Any]:
    return {
        "applied": {},  # source partition -> highest offset folded in
        "watermark": None,  # highest event time seen
        "partition_watermarks": {},  # source partition -> highest event time seen on it
        "last_closed": None,  # index of the newest closed window
        "windows": {},  # open window index -> aggregates
        "history": {},  # rule -> subject -> counts or means of the last closed windows
        "cooldown": {},  # "rule|subject" -> window end (event time) of the last alert
        "fired": [],  # recent alert ids
        "late": 0,  # calls that arrived after their window closed (dropped, counted)
    }


def alert_id(rule: str, subject: str, window_start: float) -> str:
    return hashlib.sha256(f"{rule}|{subject}|{window_start:.0f}".encode()).hexdigest()[:32]


def _ts(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


class AlertEngine:
    def __init__(self, config: AlertsConfig) -> None:
        self.config = config

    def window_index(self, event_ts: float) -> int:
        return int(event_ts // self.config.window_s)

    def apply(self, state: dict[str, Any], facts: CallFacts) -> list[AlertRaised]:
        """Fold ``facts`` into ``state`` (in place); alerts of the windows this call closed."""
        partition, offset = facts.source
        applied = state["applied"]
        if offset >= 0 and offset <= applied.get(str(partition), -1):
            return []  # a replayed call: already counted
        if offset >= 0:
            applied[str(partition)] = offset
        index = self.window_index(facts.event_ts)
        if state["last_closed"] is not None and index <= state["last_closed"]:
            state["late"] += 1
            # Not an error of the call (it is stored and analysed as any other); the alert
            # windows just never see it, and an operator should know how many did not count.
            log.warning(
                "call arrived after its alert window closed: not counted in alerts",
                extra={
                    "call_id": facts.call_id,
                    "window_start": _ts(index * self.config.window_s).isoformat(),
                    "late_total": state["late"],
                },
            )
        else:
            self._add(state, index, facts)
        if state["watermark"] is None or facts.event_ts > state["watermark"]:
            state["watermark"] = facts.event_ts
        marks = state.setdefault("partition_watermarks", {})  # absent from states of older versions
        if facts.event_ts > marks.get(str(partition), float("-inf")):
            marks[str(partition)] = facts.event_ts
        return self._close_due(state)

    def flush(self, state: dict[str, Any]) -> list[AlertRaised]:
        """Close every open window (end of a bounded replay)."""
        alerts: list[AlertRaised] = []
        for key in sorted(state["windows"], key=int):
            alerts += self._close_through(state, int(key))
        return alerts

    # -- aggregation ------------------------------------------------------------------------------

    def _add(self, state: dict[str, Any], index: int, facts: CallFacts) -> None:
        window = state["windows"].setdefault(str(index), {"calls": 0, "rules": {}, "samples": {}})
        window["calls"] += 1
        samples = window["samples"]
        for rule in self.config.rules:
            agg = window["rules"].setdefault(rule.name, {})
            for subject, value in self._contributions(rule, facts):
                if isinstance(rule, AgentDropRule):
                    total, n = agg.get(subject, [0.0, 0])
                    agg[subject] = [total + value, n + 1]
                else:
                    agg[subject] = agg.get(subject, 0) + 1
                kept = samples.setdefault(f"{rule.name}|{subject}", [])
                if len(kept) < self.config.samples_per_alert:
                    kept.append(facts.call_id)

    @staticmethod
    def _contributions(
        rule: SpikeRule | RateRule | AgentDropRule, facts: CallFacts
    ) -> list[tuple[str, float]]:
        if isinstance(rule, SpikeRule):
            values = facts.dimensions.get(rule.dimension, [])
            return [(f"{rule.dimension}={v}", 1.0) for v in values if rule.values is None or v in rule.values]
        if isinstance(rule, RateRule):
            matches = any(facts.fields.get(field) in allowed for field, allowed in rule.when.items())
            return [("all", 1.0)] if matches else []
        if facts.agent is None or rule.metric not in facts.metrics:
            return []
        return [(f"agent={facts.agent}", facts.metrics[rule.metric])]

    # -- closing windows --------------------------------------------------------------------------

    def _closing_watermark(self, state: dict[str, Any]) -> float:
        """The event time up to which every active source partition has been read.

        Partitions are consumed at their own pace: a backlog (a restart, a replay) reads one
        partition's hours ahead of another's, and closing windows at the newest call seen would
        drop the slower partitions' calls as late. A partition whose newest call is more than
        ``partition_idle_s`` behind the newest of all is idle (a quiet partition at low volume)
        and no longer holds windows open.
        """
        newest = float(state["watermark"])
        marks = state["partition_watermarks"]  # ``apply`` adds it to states of older versions
        active = [m for m in marks.values() if m >= newest - self.config.partition_idle_s]
        return min(active, default=newest)

    def _close_due(self, state: dict[str, Any]) -> list[AlertRaised]:
        watermark = self._closing_watermark(state)
        due = self.window_index(watermark - self.config.lateness_s) - 1  # newest window past its grace
        if state["last_closed"] is not None and due <= state["last_closed"]:
            return []
        if state["last_closed"] is None and not any(int(k) <= due for k in state["windows"]):
            return []
        return self._close_through(state, due)

    def _close_through(self, state: dict[str, Any], due: int) -> list[AlertRaised]:
        alerts: list[AlertRaised] = []
        open_indexes = sorted(int(k) for k in state["windows"])
        first = (
            state["last_closed"] + 1 if state["last_closed"] is not None else min(open_indexes, default=due)
        )
        # Empty windows between calls count as zero in baselines, but a long gap (a replay from an
        # old offset, a quiet weekend) needs no more empty windows than any baseline keeps.
        longest = max((getattr(r, "baseline_windows", 1) for r in self.config.rules), default=1)
        if due - first > longest:
            empties = [i for i in range(first, due + 1) if i not in open_indexes]
            skip = empties[: max(0, len(empties) - longest)]
        else:
            skip = []
        skipped = set(skip)
        for index in range(first, due + 1):
            if index in skipped:
                continue
            window = state["windows"].pop(str(index), {"calls": 0, "rules": {}, "samples": {}})
            alerts += self._evaluate(state, index, window)
            state["last_closed"] = index
        state["last_closed"] = max(due, state["last_closed"] if state["last_closed"] is not None else due)
        return alerts

    def _evaluate(self, state: dict[str, Any], index: int, window: dict[str, Any]) -> list[AlertRaised]:
        start = index * self.config.window_s
        end = start + self.config.window_s
        alerts: list[AlertRaised] = []
        for rule in self.config.rules:
            agg: dict[str, Any] = window["rules"].get(rule.name, {})
            history: dict[str, list[float]] = state["history"].setdefault(rule.name, {})
            candidates: list[tuple[str, float, float | None, float]] = []
            if isinstance(rule, SpikeRule):
                for subject in set(agg) | set(history):
                    count = float(agg.get(subject, 0))
                    past = history.get(subject, [])
                    if count > 0 and len(past) >= rule.min_baseline_windows:
                        baseline = sum(past) / len(past)
                        threshold = max(rule.min_count, rule.factor * baseline, baseline + rule.min_increase)
                        if count >= threshold:
                            candidates.append((subject, count, baseline, threshold))
                    self._remember(history, subject, count, rule.baseline_windows)
            elif isinstance(rule, RateRule):
                hits = float(agg.get("all", 0))
                if window["calls"] >= rule.min_calls and hits / window["calls"] >= rule.threshold:
                    candidates.append(("all", hits / window["calls"], None, rule.threshold))
            else:
                for subject, (total, n) in agg.items():
                    mean = total / n
                    past = history.get(subject, [])
                    if n >= rule.min_calls and len(past) >= rule.min_baseline_windows:
                        agent_baseline = sum(past) / len(past)
                        if mean <= agent_baseline - rule.drop:
                            candidates.append((subject, mean, agent_baseline, agent_baseline - rule.drop))
                    if n >= rule.min_calls:  # a window of one or two calls says little about an agent
                        self._remember(history, subject, mean, rule.baseline_windows)
            for subject, value, compared_with, threshold in candidates:
                alert = self._raise(state, rule, subject, start, end, value, compared_with, threshold, window)
                if alert is not None:
                    alerts.append(alert)
        return alerts

    @staticmethod
    def _remember(history: dict[str, list[float]], subject: str, value: float, keep: int) -> None:
        kept = deque(history.get(subject, []), maxlen=keep)
        kept.append(value)
        history[subject] = list(kept)

    def _raise(
        self,
        state: dict[str, Any],
        rule: SpikeRule | RateRule | AgentDropRule,
        subject: str,
        start: float,
        end: float,
        value: float,
        baseline: float | None,
        threshold: float,
        window: dict[str, Any],
    ) -> AlertRaised | None:
        identifier = alert_id(rule.name, subject, start)
        if identifier in state["fired"]:
            return None
        cooldown_key = f"{rule.name}|{subject}"
        last = state["cooldown"].get(cooldown_key)
        if last is not None and end - last < rule.cooldown_s:
            return None
        state["cooldown"][cooldown_key] = end
        state["fired"] = [*state["fired"][-(_FIRED_KEPT - 1) :], identifier]
        minutes = self.config.window_s / 60
        base = f", baseline {baseline:.2f}" if baseline is not None else ""
        message = (
            f"{rule.name}: {subject} at {value:.2f} in {minutes:.0f} min (threshold {threshold:.2f}{base})"
        )
        return AlertRaised(
            alert_id=identifier,
            rule=rule.name,
            kind=rule.kind,
            severity=rule.severity,
            subject=subject,
            window_start=_ts(start),
            window_end=_ts(end),
            value=value,
            baseline=baseline,
            threshold=threshold,
            calls_in_window=int(window["calls"]),
            message=message,
            sample_call_ids=list(window["samples"].get(f"{rule.name}|{subject}", [])),
            raised_at=_ts(end + self.config.lateness_s),
        )
