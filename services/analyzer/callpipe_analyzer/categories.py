"""Categories: the rule trees of ``analysis.yaml`` evaluated on one analysed call.

A category is a tree of rules combined with all/any/not over phrases (exact or fuzzy: stemmed
words, near-spellings, a few extra words between), silences, interruptions, a party's sentiment
and talk share, and the analysis' own fields. It is evaluated after metrics and after the engine,
whichever engine ran, so one configuration labels calls the same way under the offline analyzer
and an LLM. Each match carries its evidence: the utterance (index, time, snippet) that made a
phrase rule true, the gap of a silence, or the call-level fact (a field, an absent phrase).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from callpipe.models import CallAnalysis, CallMetrics, CategoryEvidence, CategoryMatch, Role, Utterance
from callpipe_analyzer.config import (
    CategorySpec,
    FieldRule,
    InterruptionRule,
    Party,
    PhraseMatch,
    PhraseRule,
    Rule,
    SentimentAt,
    SentimentRule,
    SilenceRule,
    TalkShareRule,
    TimeWindow,
)
from callpipe_analyzer.metrics import INTERRUPT_MIN_REMAINING_S

__all__ = ["MAX_EVIDENCE", "CallView", "evaluate_categories", "phrase_hits", "stem"]

# A category shows a supervisor where to look, not every occurrence: the first few suffice.
MAX_EVIDENCE = 5
SNIPPET_CHARS = 200
# Near-spellings (ASR slips: "recordid", "supervisior") count as the word from this similarity on,
# for words long enough that a one-letter change does not make another word.
NEAR_SPELLING_RATIO = 0.85
NEAR_SPELLING_MIN_LEN = 5

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
# Suffixes stripped by the stemmer, longest first (a light Porter-style step 1: enough to make
# "recorded"/"recording"/"records", "cancelling"/"cancelled"/"cancellation" meet).
_SUFFIXES = ("ations", "ation", "ingly", "ings", "ing", "edly", "ed", "ies", "es", "ly", "s")


@lru_cache(maxsize=65_536)
def stem(word: str) -> str:
    word = word.lower().replace("'", "")
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            if suffix == "ies":
                word += "y"
            break
    # "cancell" / "cancel", "stopp" / "stop": a doubled final consonant left by the suffix.
    if len(word) >= 4 and word[-1] == word[-2] and word[-1] not in "aeiouls":
        word = word[:-1]
    if len(word) >= 4 and word.endswith("ll"):
        word = word[:-1]
    return word


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _same_word(said: str, wanted: str) -> bool:
    if said == wanted:
        return True
    if len(wanted) >= NEAR_SPELLING_MIN_LEN and len(said) >= NEAR_SPELLING_MIN_LEN:
        return difflib.SequenceMatcher(None, said, wanted).ratio() >= NEAR_SPELLING_RATIO
    return False


def _fuzzy_in(tokens: list[str], phrase: list[str], slop: int) -> bool:
    for i, token in enumerate(tokens):
        if not _same_word(token, phrase[0]):
            continue
        pos, ok = i, True
        for wanted in phrase[1:]:
            window = tokens[pos + 1 : pos + 2 + slop]
            nxt = next((j for j, t in enumerate(window) if _same_word(t, wanted)), None)
            if nxt is None:
                ok = False
                break
            pos += 1 + nxt
        if ok:
            return True
    return False


def phrase_hits(text: str, phrases: Sequence[str], match: PhraseMatch, slop: int = 1) -> str | None:
    """The first configured phrase the text contains, or None."""
    if match is PhraseMatch.EXACT:
        lowered = " ".join(_words(text))
        for phrase in phrases:
            wanted = " ".join(_words(phrase))
            if wanted and re.search(rf"(?<![a-z0-9]){re.escape(wanted)}(?![a-z0-9])", lowered):
                return phrase
        return None
    tokens = [stem(w) for w in _words(text)]
    for phrase in phrases:
        stems = [stem(w) for w in _words(phrase)]
        if stems and _fuzzy_in(tokens, stems, slop):
            return phrase
    return None


@dataclass(frozen=True)
class CallView:
    """What rules read: the redacted turns in time order, their sentiment, metrics, analysis."""

    utterances: Sequence[Utterance]
    sentiments: Sequence[float]
    metrics: CallMetrics
    analysis: CallAnalysis | None

    @property
    def duration_s(self) -> float:
        last_end = max((u.end_s for u in self.utterances), default=0.0)
        return max(self.metrics.duration_s, last_end)


@dataclass(frozen=True)
class _Result:
    matched: bool
    evidence: tuple[CategoryEvidence, ...] = ()


def _party_of(u: Utterance, party: Party) -> bool:
    return party is Party.ANY or u.role.value == party.value


def _bounds(window: TimeWindow | None, duration: float) -> tuple[float, float]:
    if window is None:
        return 0.0, float("inf")
    if window.first_s is not None:
        return 0.0, window.first_s
    if window.last_s is not None:
        return max(0.0, duration - window.last_s), float("inf")
    if window.first_pct is not None:
        return 0.0, duration * window.first_pct / 100
    assert window.last_pct is not None
    return duration * (1 - window.last_pct / 100), float("inf")


def _window_text(window: TimeWindow | None) -> str:
    if window is None:
        return ""
    if window.first_s is not None:
        return f" in the first {window.first_s:g} s"
    if window.last_s is not None:
        return f" in the last {window.last_s:g} s"
    if window.first_pct is not None:
        return f" in the first {window.first_pct:g}% of the call"
    return f" in the last {window.last_pct:g}% of the call"


def describe(rule: Rule) -> str:
    """Short human text of a rule, stored as the evidence's ``rule``."""
    if rule.phrase is not None:
        p = rule.phrase
        who = "" if p.speaker is Party.ANY else f"{p.speaker.value} says "
        shown = " | ".join(p.phrases[:3]) + (" | …" if len(p.phrases) > 3 else "")
        return f"{who}'{shown}'{_window_text(p.window)}"
    if rule.silence is not None:
        return f"silence ≥ {rule.silence.min_s:g} s{_window_text(rule.silence.window)}"
    if rule.interruptions is not None:
        i = rule.interruptions
        return f"{i.by.value} interrupts ≥ {i.min}×{_window_text(i.window)}"
    if rule.sentiment is not None:
        s = rule.sentiment
        return f"{s.speaker.value} sentiment ({s.at.value}){_range_text(s.below, s.above)}"
    if rule.talk_share is not None:
        t = rule.talk_share
        return f"{t.speaker.value} talk share{_range_text(t.below, t.above)}"
    if rule.field is not None:
        f = rule.field
        if f.in_ is not None:
            return f"{f.name} in {', '.join(f.in_)}"
        return f"{f.name}{_range_text(f.below, f.above)}"
    if rule.not_ is not None:
        return f"not ({describe(rule.not_)})"
    children = rule.all if rule.all is not None else rule.any
    joiner = " and " if rule.all is not None else " or "
    return joiner.join(f"({describe(c)})" for c in children or [])


def _range_text(below: float | None, above: float | None) -> str:
    parts = []
    if below is not None:
        parts.append(f" < {below:g}")
    if above is not None:
        parts.append(f" > {above:g}")
    return " and".join(parts)


def _in_range(value: float, below: float | None, above: float | None) -> bool:
    return (below is None or value < below) and (above is None or value > above)


def _snippet(text: str) -> str:
    return text if len(text) <= SNIPPET_CHARS else text[: SNIPPET_CHARS - 1] + "…"


def _utterance_evidence(rule: str, index: int, u: Utterance) -> CategoryEvidence:
    return CategoryEvidence(
        rule=rule, utterance_index=index, start_s=u.start_s, end_s=u.end_s, text=_snippet(u.text)
    )


def _phrase(rule: PhraseRule, call: CallView, text: str) -> _Result:
    lo, hi = _bounds(rule.window, call.duration_s)
    evidence = []
    for i, u in enumerate(call.utterances):
        if not (_party_of(u, rule.speaker) and lo <= u.start_s < hi):
            continue
        if phrase_hits(u.text, rule.phrases, rule.match, rule.slop) is not None:
            evidence.append(_utterance_evidence(text, i, u))
            if len(evidence) >= MAX_EVIDENCE:
                break
    return _Result(bool(evidence), tuple(evidence))


def _silence(rule: SilenceRule, call: CallView, text: str) -> _Result:
    lo, hi = _bounds(rule.window, call.duration_s)
    evidence: list[CategoryEvidence] = []
    spoken_until = None
    for i, u in enumerate(call.utterances):
        gap = None if spoken_until is None else u.start_s - spoken_until
        if (
            spoken_until is not None
            and gap is not None
            and gap >= rule.min_s
            and spoken_until < hi
            and u.start_s > lo
        ):
            evidence.append(
                CategoryEvidence(
                    rule=text,
                    utterance_index=i,
                    start_s=spoken_until,
                    end_s=u.start_s,
                    text=f"{u.start_s - spoken_until:.1f} s of silence before: {_snippet(u.text)}",
                )
            )
        spoken_until = u.end_s if spoken_until is None else max(spoken_until, u.end_s)
    return _Result(bool(evidence), tuple(evidence[:MAX_EVIDENCE]))


def _interruptions(rule: InterruptionRule, call: CallView, text: str) -> _Result:
    lo, hi = _bounds(rule.window, call.duration_s)
    hits = []
    for i, u in enumerate(call.utterances):
        if not (_party_of(u, rule.by) and lo <= u.start_s < hi) or u.role is Role.UNKNOWN:
            continue
        # The metrics' definition: starts while another party still has ≥ 0.5 s of its turn left.
        if any(
            o.role is not u.role and o.start_s < u.start_s < o.end_s - INTERRUPT_MIN_REMAINING_S
            for o in call.utterances
        ):
            hits.append(_utterance_evidence(text, i, u))
    matched = len(hits) >= rule.min
    return _Result(matched, tuple(hits[:MAX_EVIDENCE]) if matched else ())


def _party_sentiments(call: CallView, party: Party) -> list[float]:
    return [s for u, s in zip(call.utterances, call.sentiments, strict=False) if _party_of(u, party)]


def _sentiment(rule: SentimentRule, call: CallView, text: str) -> _Result:
    scores = _party_sentiments(call, rule.speaker)
    if not scores:
        return _Result(False)
    if rule.at is SentimentAt.END:
        scores = scores[-max(1, len(scores) // 3) :]
    value = sum(scores) / len(scores)
    if not _in_range(value, rule.below, rule.above):
        return _Result(False)
    return _Result(True, (CategoryEvidence(rule=text, text=f"{rule.speaker.value} sentiment {value:+.2f}"),))


def _talk_share(rule: TalkShareRule, call: CallView, text: str) -> _Result:
    shares = [
        r.talk_share
        for r in call.metrics.roles
        if rule.speaker is Party.ANY or r.role.value == rule.speaker.value
    ]
    if not shares:
        return _Result(False)
    value = max(shares)
    if not _in_range(value, rule.below, rule.above):
        return _Result(False)
    return _Result(True, (CategoryEvidence(rule=text, text=f"{rule.speaker.value} talk share {value:.0%}"),))


def _field(rule: FieldRule, call: CallView, text: str) -> _Result:
    if call.analysis is None:
        return _Result(False)
    value = getattr(call.analysis, rule.name)
    if rule.in_ is not None:
        matched = str(value) in rule.in_
    else:
        matched = _in_range(float(value), rule.below, rule.above)
    if not matched:
        return _Result(False)
    return _Result(True, (CategoryEvidence(rule=text, text=f"{rule.name} = {value}"),))


def _window_of(rule: Rule, duration: float) -> tuple[float | None, float | None]:
    window = None
    for leaf in (rule.phrase, rule.silence, rule.interruptions):
        if leaf is not None:
            window = leaf.window
    if window is None:
        return None, None
    lo, hi = _bounds(window, duration)
    return lo, min(hi, duration)


def _evaluate(rule: Rule, call: CallView) -> _Result:
    text = describe(rule)
    if rule.phrase is not None:
        return _phrase(rule.phrase, call, text)
    if rule.silence is not None:
        return _silence(rule.silence, call, text)
    if rule.interruptions is not None:
        return _interruptions(rule.interruptions, call, text)
    if rule.sentiment is not None:
        return _sentiment(rule.sentiment, call, text)
    if rule.talk_share is not None:
        return _talk_share(rule.talk_share, call, text)
    if rule.field is not None:
        return _field(rule.field, call, text)
    if rule.not_ is not None:
        inner = _evaluate(rule.not_, call)
        if inner.matched:
            return _Result(False)
        # The absence itself is the evidence: what was looked for, and where.
        start, end = _window_of(rule.not_, call.duration_s)
        return _Result(
            True,
            (
                CategoryEvidence(
                    rule=text, start_s=start, end_s=end, text=f"not found: {describe(rule.not_)}"
                ),
            ),
        )
    if rule.all is not None:
        results = [_evaluate(child, call) for child in rule.all]
        if not all(r.matched for r in results):
            return _Result(False)
        return _Result(True, tuple(e for r in results for e in r.evidence))
    assert rule.any is not None
    results = [_evaluate(child, call) for child in rule.any]
    matched = [r for r in results if r.matched]
    return _Result(bool(matched), tuple(e for r in matched for e in r.evidence))


def evaluate_categories(categories: dict[str, CategorySpec], call: CallView) -> list[CategoryMatch]:
    """The configured categories that match the call, in configuration order, with evidence."""
    out = []
    for name, spec in categories.items():
        result = _evaluate(spec.rule, call)
        if result.matched:
            evidence = sorted(result.evidence, key=lambda e: (e.start_s is None, e.start_s or 0.0))
            out.append(CategoryMatch(name=name, evidence=evidence[:MAX_EVIDENCE]))
    return out
