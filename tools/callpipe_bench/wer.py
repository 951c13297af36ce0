"""Word error rate with the standard text normalization of Whisper-style evaluation.

WER = (substitutions + deletions + insertions) / reference words, over text normalized by
Whisper's ``EnglishTextNormalizer`` (the ``whisper-normalizer`` package, the normalizer OpenAI
published with Whisper's evaluation), applied the same way to reference and hypothesis: lower
case; bracketed text and the fillers hmm/mm/mhm/mmm/uh/um dropped; contractions expanded
(won't → will not, 're → are, 've → have, …); spelled and written numbers, currencies, ordinals
and percentages brought to one form ("forty five dollars and fifty cents" = "$45.50", "first" =
"1st"); British spellings made American; punctuation removed. Formatting differences are then not
counted as recognition errors, and nothing beyond that standard is forgiven (until this change our
own rules also equated "okay" with "ok" and "e-mail" with "email"; the standard does not).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from functools import cache

__all__ = ["align_words", "normalize_text", "wer", "word_errors"]


@cache
def _normalizer() -> object:
    # Imported lazily and once: building it loads the British→American spelling table. Its
    # basic.py has an invalid escape in a docstring: a warning when first compiled (Deprecation-
    # on 3.11, SyntaxWarning on 3.12), which warnings-as-errors (the test suite) would turn into a
    # failed import.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", SyntaxWarning)
        from whisper_normalizer.english import EnglishTextNormalizer  # type: ignore[import-untyped]

    return EnglishTextNormalizer()


def normalize_text(text: str) -> list[str]:
    """Words of ``text`` after Whisper's English normalization (see the module docstring)."""
    normalized = _normalizer()(text)  # type: ignore[operator]
    return str(normalized).split()


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
    hypothesis word. Among the alignments of minimal cost the one with the most exact matches is
    taken (then the diagonal first, so it is deterministic): "two billing cycles. Great" against
    "2000000 cycles. It is" has two alignments of cost 4, and only one of them pairs "cycles"
    with "cycles" instead of sliding every word one place across the turn boundary."""
    n, m = len(ref), len(hyp)
    k = n + m + 1  # one edit outweighs any number of matches: edits first, then matches
    cost = [[j * k for j in range(m + 1)]]
    for i in range(1, n + 1):
        row = [i * k] + [0] * m
        above = cost[i - 1]
        r = ref[i - 1]
        for j in range(1, m + 1):
            diagonal = above[j - 1] + (k if r != hyp[j - 1] else -1)
            row[j] = min(above[j] + k, row[j - 1] + k, diagonal)
        cost.append(row)
    pairs: list[tuple[int | None, int | None]] = []
    i, j = n, m
    while i > 0 or j > 0:
        if i > 0 and j > 0 and cost[i][j] == cost[i - 1][j - 1] + (k if ref[i - 1] != hyp[j - 1] else -1):
            pairs.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif i > 0 and cost[i][j] == cost[i - 1][j] + k:
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
