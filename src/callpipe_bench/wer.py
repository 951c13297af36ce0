"""Word error rate with the text normalization speech-to-text evals need.

WER = (substitutions + deletions + insertions) / reference words, over normalized text: lower
case, punctuation dropped, digits spelled out (Whisper writes "45", our scripts say "forty five"),
common contractions expanded, so formatting differences are not counted as recognition errors.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["align_words", "normalize_text", "wer", "word_errors"]

_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_CONTRACTIONS = {
    "i'm": "i am",
    "it's": "it is",
    "that's": "that is",
    "don't": "do not",
    "doesn't": "does not",
    "can't": "cannot",
    "won't": "will not",
    "i'll": "i will",
    "you're": "you are",
    "we're": "we are",
    "i've": "i have",
    "there's": "there is",
    "what's": "what is",
    "let's": "let us",
    "isn't": "is not",
    "hasn't": "has not",
    "haven't": "have not",
    "i'd": "i would",
    "you'll": "you will",
    "we'll": "we will",
    "didn't": "did not",
    "wasn't": "was not",
    "o'clock": "oclock",
    "can not": "cannot",
    "okay": "ok",
    "o.k.": "ok",
    "e-mail": "email",
}


def _number_words(n: int) -> str:
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + ("" if ones == 0 else " " + _ONES[ones])
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return _ONES[hundreds] + " hundred" + ("" if rest == 0 else " " + _number_words(rest))
    if n < 1_000_000:
        thousands, rest = divmod(n, 1000)
        return _number_words(thousands) + " thousand" + ("" if rest == 0 else " " + _number_words(rest))
    return " ".join(_ONES[int(d)] for d in str(n))


def _spell_number(match: re.Match[str]) -> str:
    token = match.group(0).replace(",", "")
    # Account numbers, postcodes and times are read digit by digit or as one number; spelled
    # digit by digit when they have a leading zero or more than 4 digits, as people read them.
    if len(token) > 4 or (len(token) > 1 and token.startswith("0")):
        return " ".join(_ONES[int(d)] for d in token)
    return _number_words(int(token))


def normalize_text(text: str) -> list[str]:
    """Lower-case words with punctuation removed and numbers spelled out."""
    out = text.lower()
    out = re.sub(r"\$(\d+)", r"\1 dollars", out)
    out = re.sub(r"(\d+)%", r"\1 percent", out)
    out = re.sub(r"(\d+):(\d\d)", lambda m: f"{m.group(1)} {m.group(2) if m.group(2) != '00' else ''}", out)
    for short, full in _CONTRACTIONS.items():
        out = re.sub(rf"(?<![\w']){re.escape(short)}(?![\w'])", full, out)
    out = re.sub(r"\d[\d,]*", _spell_number, out)
    out = re.sub(r"[^a-z' ]+", " ", out.replace("-", " "))
    return [w.strip("'") for w in out.split() if w.strip("'")]


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(edit distance in words, reference word count) after normalization."""
    ref, hyp = normalize_text(reference), normalize_text(hypothesis)
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, start=1):
        current = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, start=1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h))
        previous = current
    return previous[-1], len(ref)


def align_words(ref: Sequence[str], hyp: Sequence[str]) -> list[tuple[int | None, int | None]]:
    """The edit-distance alignment behind ``word_errors``, as (ref index, hyp index) pairs.

    Same costs as the WER (substitution, deletion, insertion: 1 each); a pair with both indices is
    a match or a substitution, ``(i, None)`` a deleted reference word, ``(None, j)`` an inserted
    hypothesis word. Among alignments of equal cost the backtrace prefers the diagonal, so the
    pairing is deterministic."""
    n, m = len(ref), len(hyp)
    cost = [list(range(m + 1))]
    for i in range(1, n + 1):
        row = [i] + [0] * m
        above = cost[i - 1]
        r = ref[i - 1]
        for j in range(1, m + 1):
            row[j] = min(above[j] + 1, row[j - 1] + 1, above[j - 1] + (r != hyp[j - 1]))
        cost.append(row)
    pairs: list[tuple[int | None, int | None]] = []
    i, j = n, m
    while i > 0 or j > 0:
        if i > 0 and j > 0 and cost[i][j] == cost[i - 1][j - 1] + (ref[i - 1] != hyp[j - 1]):
            pairs.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif i > 0 and cost[i][j] == cost[i - 1][j] + 1:
            pairs.append((i - 1, None))
            i -= 1
        else:
            pairs.append((None, j - 1))
            j -= 1
    pairs.reverse()
    return pairs


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate of one hypothesis; 0 for an empty reference and hypothesis."""
    errors, words = word_errors(reference, hypothesis)
    if words == 0:
        return 0.0 if errors == 0 else 1.0
    return errors / words
