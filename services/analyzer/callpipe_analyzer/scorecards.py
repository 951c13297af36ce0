"""QA scorecards: the forms of ``analysis.yaml`` scored on one call.

Each question is answered by one source — a category (passes when absent, or when present), a
metric against a threshold, or a configured custom question (answered by whichever engine ran; a
question marked ``llm`` counts only when the LLM answered it). The score is the points earned over
the weights of the questions that apply, 0-100; a failed critical question scores the form 0.
A question that cannot be answered (no analysis, no such party) does not apply, and says why.
"""

from __future__ import annotations

from collections.abc import Callable

from callpipe.models import CallAnalysis, CallMetrics, CategoryMatch, Role, Scorecard, ScorecardAnswer
from callpipe_analyzer.config import ScorecardForm, ScorecardQuestion

__all__ = ["METRICS", "score_forms"]


def _role(metrics: CallMetrics, role: Role, attr: str) -> float | None:
    found = next((r for r in metrics.roles if r.role is role), None)
    value = getattr(found, attr) if found is not None else None
    return float(value) if value is not None else None


def _longest_silence(metrics: CallMetrics, analysis: CallAnalysis | None, gaps: float) -> float | None:
    return gaps


# Metric name → reader. ``longest_silence_s`` is the longest gap between turns (computed by the stage).
METRICS: dict[str, Callable[[CallMetrics, CallAnalysis | None, float], float | None]] = {
    "duration_s": lambda m, a, g: m.duration_s,
    "silence_share": lambda m, a, g: m.silence_share,
    "overlap_s": lambda m, a, g: m.overlap_s,
    "longest_monologue_s": lambda m, a, g: m.longest_monologue_s,
    "longest_silence_s": _longest_silence,
    "agent_talk_share": lambda m, a, g: _role(m, Role.AGENT, "talk_share"),
    "caller_talk_share": lambda m, a, g: _role(m, Role.CALLER, "talk_share"),
    "agent_interruptions": lambda m, a, g: _role(m, Role.AGENT, "interruptions"),
    "agent_words_per_minute": lambda m, a, g: _role(m, Role.AGENT, "words_per_minute"),
    "caller_sentiment_end": lambda m, a, g: _role(m, Role.CALLER, "sentiment_end"),
    "satisfaction_score": lambda m, a, g: float(a.satisfaction_score) if a is not None else None,
}


def _answer(
    q: ScorecardQuestion,
    categories: dict[str, CategoryMatch],
    metrics: CallMetrics,
    analysis: CallAnalysis | None,
    longest_silence_s: float,
    engine: str,
) -> tuple[bool | None, str]:
    if q.category is not None:
        match = categories.get(q.category.category)
        present = match is not None
        passed = present if q.category.expect == "present" else not present
        if present and match is not None and match.evidence:
            first = match.evidence[0]
            where = f" at {first.start_s:.0f} s" if first.start_s is not None else ""
            return passed, f"{q.category.category} matched{where}: {first.text}"
        return passed, f"{q.category.category} {'matched' if present else 'not matched'}"
    if q.metric is not None:
        value = METRICS[q.metric.metric](metrics, analysis, longest_silence_s)
        if value is None:
            return None, f"{q.metric.metric} not available for this call"
        ok = (q.metric.min is None or value >= q.metric.min) and (
            q.metric.max is None or value <= q.metric.max
        )
        bounds = " and ".join(
            t
            for t in (
                f"≥ {q.metric.min:g}" if q.metric.min is not None else "",
                f"≤ {q.metric.max:g}" if q.metric.max is not None else "",
            )
            if t
        )
        return ok, f"{q.metric.metric} = {value:.3g} ({'within' if ok else 'outside'} {bounds})"
    assert q.question is not None
    if q.question.llm and engine != "llm":
        return None, "answered only by the LLM engine"
    if analysis is None:
        return None, "no analysis (nothing said)"
    answer = next((a for a in analysis.custom_answers if a.question_id == q.question.custom_question), None)
    if answer is None:
        return None, f"{q.question.custom_question} was not answered"
    ok = answer.answer.strip().lower() == q.question.expect.lower()
    quote = f": {answer.evidence}" if answer.evidence else ""
    return ok, f"{q.question.custom_question} = {answer.answer}{quote}"


def score_form(
    form: ScorecardForm,
    categories: list[CategoryMatch],
    metrics: CallMetrics,
    analysis: CallAnalysis | None,
    *,
    longest_silence_s: float,
    engine: str,
) -> Scorecard:
    by_name = {c.name: c for c in categories}
    answers = []
    critical_failed = False
    for q in form.questions:
        passed, reason = _answer(q, by_name, metrics, analysis, longest_silence_s, engine)
        if passed is False and q.critical:
            critical_failed = True
            reason = f"critical: {reason}"
        answers.append(
            ScorecardAnswer(
                question_id=q.id,
                weight=q.weight,
                passed=passed,
                points=q.weight if passed else 0.0,
                reason=reason,
            )
        )
    applicable = [a for a in answers if a.passed is not None]
    total = sum(a.weight for a in applicable)
    if not total:
        score = None
    elif critical_failed:
        score = 0.0
    else:
        score = round(100 * sum(a.points for a in applicable) / total, 1)
    return Scorecard(form=form.id, score=score, answers=answers)


def score_forms(
    forms: list[ScorecardForm],
    categories: list[CategoryMatch],
    metrics: CallMetrics,
    analysis: CallAnalysis | None,
    *,
    longest_silence_s: float,
    engine: str,
) -> list[Scorecard]:
    return [
        score_form(f, categories, metrics, analysis, longest_silence_s=longest_silence_s, engine=engine)
        for f in forms
    ]
