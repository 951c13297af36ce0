"""Digits as people say them and as speech-to-text writes them, across a speaker's turns.

A card number arrives as "4111 1111 1111 1111", "four one one one, one one one one …", "oh",
"double five", or split over several utterances with the agent's "mm-hmm" in between. We turn a
speaker's utterances into one stream of digit tokens (each remembering the utterance and the
character span it came from), cut the stream into *runs* wherever a real word intervenes, and let
the detectors work on runs of digits rather than on raw text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["DigitRun", "DigitToken", "digit_runs", "luhn_valid"]

_WORD_DIGITS = {
    "zero": "0",
    "oh": "0",
    "o": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
}
_REPEAT = {"double": 2, "triple": 3}
# Words a speaker says between digit groups without ending the number.
_FILLERS = {"uh", "um", "umm", "er", "ah", "and", "then", "dash", "hyphen", "space", "is", "it's", "its"}
_TOKEN = re.compile(r"\d+|[A-Za-z']+")
# Between two tokens of one number only separators may appear (spaces, commas, dashes, dots …).
_SEPARATORS = re.compile(r"^[\s,.\-–/:;]*$")


@dataclass(frozen=True)
class DigitToken:
    """Digits from one token: which utterance, which characters, which digits."""

    utterance: int
    start: int
    end: int
    digits: str


@dataclass(frozen=True)
class DigitRun:
    """Consecutive digit tokens of one speaker with nothing but separators or fillers between."""

    tokens: tuple[DigitToken, ...]

    @property
    def digits(self) -> str:
        return "".join(t.digits for t in self.tokens)

    def tokens_covering(self, start: int, end: int) -> list[DigitToken]:
        """Tokens whose digits overlap the digit positions ``[start, end)`` of this run."""
        out: list[DigitToken] = []
        pos = 0
        for token in self.tokens:
            nxt = pos + len(token.digits)
            if nxt > start and pos < end:
                out.append(token)
            pos = nxt
        return out


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum every payment card number satisfies."""
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def digit_runs(texts: Sequence[tuple[int, str]], *, bridge_utterances: bool = True) -> list[DigitRun]:
    """Digit runs over the given ``(utterance_index, text)`` turns of ONE speaker, in time order.

    With ``bridge_utterances`` a run continues into the speaker's next turn when the current turn
    ends with digits and the next starts with them: that is how numbers get split by the
    transcriber's segmentation or by the other party's backchannel.
    """
    runs: list[DigitRun] = []
    current: list[DigitToken] = []
    for utterance, text in texts:
        last_end = 0
        pending_repeat = 1
        if current and not bridge_utterances:
            runs.append(DigitRun(tuple(current)))
            current = []
        for match in _TOKEN.finditer(text):
            raw = match.group(0)
            word = raw.lower()
            between = text[last_end : match.start()]
            if current and last_end and not _SEPARATORS.match(between):
                runs.append(DigitRun(tuple(current)))
                current = []
            last_end = match.end()
            if raw.isdigit():
                current.append(
                    DigitToken(
                        utterance, match.start(), match.end(), raw * pending_repeat if len(raw) == 1 else raw
                    )
                )
                pending_repeat = 1
            elif word in _WORD_DIGITS and not (word == "o" and not current):
                current.append(
                    DigitToken(utterance, match.start(), match.end(), _WORD_DIGITS[word] * pending_repeat)
                )
                pending_repeat = 1
            elif word in _REPEAT:
                pending_repeat = _REPEAT[word]
            elif word in _FILLERS:
                continue
            else:
                pending_repeat = 1
                if current:
                    runs.append(DigitRun(tuple(current)))
                    current = []
        # A turn that ends in words closes the run; one that ends in digits may continue.
        tail = text[last_end:]
        if current and not _SEPARATORS.match(tail):
            runs.append(DigitRun(tuple(current)))
            current = []
    if current:
        runs.append(DigitRun(tuple(current)))
    return runs
