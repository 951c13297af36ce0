"""PII/PCI redaction of a call's utterances, before any text leaves the analyzer.

Detected spans are replaced by their type in brackets (``[CARD_NUMBER]``, ``[SSN]``, …) so a
reader, the LLM and the warehouse all see *that* something was said, never what. What is found:

- card numbers: 13–19 digit Luhn-valid sequences, written or spoken ("four one one one", "oh",
  "double five"), also split over a speaker's consecutive turns;
- CVV / expiry: digits right after a card number in the same run, and short digit groups or dates
  near a card number or after "CVV", "security code", "expiration";
- US social security numbers (3-2-4 written, or 9 digits after "social"/"SSN");
- e-mail addresses (written, and spoken "name at domain dot com");
- phone numbers (10 digits, or 11 starting with 1; written or spoken).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from callpipe.models import Utterance
from callpipe_analyzer.redaction.digits import DigitRun, digit_runs, luhn_valid

__all__ = ["AudioSpan", "RedactionResult", "Redactor", "RedactorOptions", "audio_spans"]

_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_SPOKEN_EMAIL = re.compile(
    r"\b[a-z0-9]+(?:\s+(?:dot|underscore|dash)\s+[a-z0-9]+)*\s+at\s+[a-z0-9]+(?:\s+dot\s+[a-z0-9]+)*"
    r"\s+dot\s+(?:com|net|org|edu|gov|io|co|us)\b",
    re.IGNORECASE,
)
_SSN = re.compile(r"\b\d{3}[- ]\d{2}[- ]\d{4}\b")
_SSN_CONTEXT = re.compile(r"\b(social|ssn|social security)\b", re.IGNORECASE)
_CARD_CONTEXT = re.compile(
    r"\b(cvv|cvc|security code|expiration|expiry|expires|exp date|valid thru|three digits|"
    r"back of the card)\b",
    re.IGNORECASE,
)
_DATE_LIKE = re.compile(r"\b(0?[1-9]|1[0-2])\s*/\s*(\d{2}|\d{4})\b")
_MONTHS = r"january|february|march|april|may|june|july|august|september|october|november|december"
_SPOKEN_EXPIRY = re.compile(
    rf"\b({_MONTHS})\s+(?:of\s+)?(?:20)?\d{{2}}\b|\b({_MONTHS})\s+twenty\s+\w+", re.IGNORECASE
)
_SHORT_DIGITS = re.compile(
    r"\b(?:\d{3,4}|(?:(?:zero|oh|one|two|three|four|five|six|seven|eight|nine)[\s,.-]+){2,3}"
    r"(?:zero|oh|one|two|three|four|five|six|seven|eight|nine))\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class RedactorOptions:
    enabled: bool = True
    cards: bool = True
    ssn: bool = True
    email: bool = True
    phone: bool = True
    # Turns either side of a card number searched for CVV / expiry.
    card_context_turns: int = 3
    # A run of at least this many digits with no Luhn-valid card in it is still taken for a card
    # number: speech-to-text drops or mishears a digit often enough ("4539" heard as "459") that
    # a checksum alone lets misheard cards through. 0 turns this off (Luhn-valid only).
    unverified_card_digits: int = 13


@dataclass(frozen=True)
class AudioSpan:
    """Where in the recording redacted text was said (seconds), and what it was."""

    start_s: float
    end_s: float
    kind: str


@dataclass
class RedactionResult:
    utterances: list[Utterance]
    counts: dict[str, int] = field(default_factory=dict)
    # Taken from the word timings before they are dropped: what the audio redaction silences.
    audio_spans: list[AudioSpan] = field(default_factory=list)


@dataclass
class _Spans:
    """Character spans to replace, per utterance, with their type."""

    by_utterance: dict[int, list[tuple[int, int, str]]] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)

    def add(self, utterance: int, start: int, end: int, kind: str) -> None:
        self.by_utterance.setdefault(utterance, []).append((start, end, kind))


class Redactor:
    """Stateless; one instance serves every call."""

    def __init__(self, options: RedactorOptions | None = None) -> None:
        self.options = options or RedactorOptions()

    def redact(self, utterances: Sequence[Utterance]) -> RedactionResult:
        if not self.options.enabled:
            return RedactionResult(list(utterances), {})
        spans = _Spans()
        card_turns: set[int] = set()
        speakers = sorted({(u.role, u.speaker) for u in utterances}, key=str)
        for role, speaker in speakers:
            turns = [(i, u.text) for i, u in enumerate(utterances) if (u.role, u.speaker) == (role, speaker)]
            for run in digit_runs(turns):
                card_turns |= self._digit_run(run, spans)
        for i, utterance in enumerate(utterances):
            self._patterns(i, utterance.text, spans)
        if self.options.cards:
            self._card_context(utterances, card_turns, spans)
        redacted: list[Utterance] = []
        markers: Counter[str] = Counter()
        audio: list[AudioSpan] = []
        for i, u in enumerate(utterances):
            if i not in spans.by_utterance:
                redacted.append(u)
                continue
            audio.extend(audio_spans(u, spans.by_utterance[i]))
            text, kinds = _apply(u.text, spans.by_utterance[i])
            markers.update(kinds)
            # Word timings carry the raw words: they cannot leave with the redacted text.
            redacted.append(u.model_copy(update={"text": text, "words": None}))
        # A card split over two turns is one card: count cards by detection, the rest by span.
        if spans.counts["card_number"]:
            markers["card_number"] = spans.counts["card_number"]
        return RedactionResult(redacted, dict(sorted(markers.items())), audio)

    # -- detectors -----------------------------------------------------------------------------

    def _digit_run(self, run: DigitRun, spans: _Spans) -> set[int]:
        digits = run.digits
        n = len(digits)
        card_utterances: set[int] = set()
        if self.options.cards and n >= 13:
            covered = [False] * n
            # Longest Luhn-valid window first: a 16-digit card must not be reported as a 13-digit one.
            for length in range(min(19, n), 12, -1):
                for start in range(0, n - length + 1):
                    if any(covered[start : start + length]) or not luhn_valid(digits[start : start + length]):
                        continue
                    for pos in range(start, start + length):
                        covered[pos] = True
                    spans.counts["card_number"] += 1
                    for token in run.tokens_covering(start, start + length):
                        spans.add(token.utterance, token.start, token.end, "card_number")
                        card_utterances.add(token.utterance)
            if not card_utterances and 0 < self.options.unverified_card_digits <= n:
                spans.counts["card_number"] += 1
                for token in run.tokens:
                    spans.add(token.utterance, token.start, token.end, "card_number")
                    card_utterances.add(token.utterance)
                return card_utterances
            if card_utterances:
                # Whatever else was said in the same breath (expiry, CVV) goes too.
                rest = [i for i, c in enumerate(covered) if not c]
                if rest:
                    spans.counts["card_security"] += 1
                    for pos in rest:
                        for token in run.tokens_covering(pos, pos + 1):
                            spans.add(token.utterance, token.start, token.end, "card_security")
                return card_utterances
        if self.options.phone and (n == 10 or (n == 11 and digits[0] == "1")):
            spans.counts["phone"] += 1
            for token in run.tokens:
                spans.add(token.utterance, token.start, token.end, "phone")
        elif self.options.ssn and n == 9:
            spans.counts["ssn"] += 1
            for token in run.tokens:
                spans.add(token.utterance, token.start, token.end, "ssn")
        return card_utterances

    def _patterns(self, index: int, text: str, spans: _Spans) -> None:
        if self.options.email:
            for regex in (_EMAIL, _SPOKEN_EMAIL):
                for m in regex.finditer(text):
                    spans.counts["email"] += 1
                    spans.add(index, m.start(), m.end(), "email")
        if self.options.ssn and _SSN_CONTEXT.search(text):
            for m in _SSN.finditer(text):
                spans.counts["ssn"] += 1
                spans.add(index, m.start(), m.end(), "ssn")
        if self.options.cards and _CARD_CONTEXT.search(text):
            for regex in (_DATE_LIKE, _SPOKEN_EXPIRY, _SHORT_DIGITS):
                for m in regex.finditer(text):
                    spans.counts["card_security"] += 1
                    spans.add(index, m.start(), m.end(), "card_security")

    def _card_context(self, utterances: Sequence[Utterance], card_turns: set[int], spans: _Spans) -> None:
        window = self.options.card_context_turns
        near: set[int] = set()
        for turn in card_turns:
            near.update(range(max(0, turn - window), min(len(utterances), turn + window + 1)))
        for i in sorted(near - card_turns):
            text = utterances[i].text
            for regex in (_DATE_LIKE, _SPOKEN_EXPIRY, _SHORT_DIGITS):
                for m in regex.finditer(text):
                    spans.counts["card_security"] += 1
                    spans.add(i, m.start(), m.end(), "card_security")


def audio_spans(utterance: Utterance, spans: list[tuple[int, int, str]]) -> list[AudioSpan]:
    """The times of an utterance's redacted character spans: the words whose characters overlap
    a span. Without word timings, or when a word cannot be placed in the text (an engine whose
    words and text differ), the whole utterance: silencing too much is safe, too little is not."""
    whole = list(dict.fromkeys(AudioSpan(utterance.start_s, utterance.end_s, kind) for _, _, kind in spans))
    if not utterance.words:
        return whole
    placed: list[tuple[int, int, float, float]] = []
    pos = 0
    text = utterance.text
    for word in utterance.words:
        token = word.word.strip()
        at = text.find(token, pos) if token else -1
        if at < 0:
            return whole
        placed.append((at, at + len(token), word.start_s, word.end_s))
        pos = at + len(token)
    out: list[AudioSpan] = []
    for start, end, kind in spans:
        hit = [(ws, we) for a, b, ws, we in placed if a < end and b > start]
        if hit:
            out.append(AudioSpan(min(ws for ws, _ in hit), max(we for _, we in hit), kind))
        else:
            out.append(AudioSpan(utterance.start_s, utterance.end_s, kind))
    return out


# When spans overlap, the more specific type names the marker.
_PRIORITY = {"card_number": 0, "ssn": 1, "phone": 2, "email": 3, "card_security": 4}


def _apply(text: str, spans: list[tuple[int, int, str]]) -> tuple[str, list[str]]:
    """Replace spans (merging overlaps and spans separated only by separators) by their marker."""
    merged: list[tuple[int, int, str]] = []
    for start, end, kind in sorted(spans):
        if merged:
            p_start, p_end, p_kind = merged[-1]
            gap = text[p_end:start]
            if start < p_end or re.fullmatch(r"[\s,.\-–/]*", gap):
                best = min(p_kind, kind, key=lambda k: _PRIORITY.get(k, 9))
                merged[-1] = (p_start, max(p_end, end), best)
                continue
        merged.append((start, end, kind))
    out: list[str] = []
    pos = 0
    for start, end, kind in merged:
        out.append(text[pos:start])
        out.append(f"[{kind.upper()}]")
        pos = end
    out.append(text[pos:])
    return "".join(out), [kind for _, _, kind in merged]
