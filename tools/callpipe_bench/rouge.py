"""ROUGE-L F1 as Google's ``rouge-score`` computes it (``RougeScorer(["rougeL"])``, no stemming).

rouge-score's default tokenizer: lower-case, every run of characters other than ``a-z0-9``
becomes a space, split on whitespace; ROUGE-L is the longest common subsequence of the two token
sequences, F1 of its precision and recall. Written out here (about 30 lines) so the eval needs no
nltk/absl dependency; ``tests/unit/analyzer/test_summary_eval.py`` checks it on worked examples.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["best_rouge_l", "rouge_l", "tokens"]

_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def tokens(text: str) -> list[str]:
    return _NON_ALNUM.sub(" ", text.lower()).split()


def _lcs(a: list[str], b: list[str]) -> int:
    if not a or not b:
        return 0
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b, 1):
            cur.append(prev[j - 1] + 1 if x == y else max(prev[j], cur[j - 1]))
        prev = cur
    return prev[-1]


def rouge_l(candidate: str, reference: str) -> float:
    """ROUGE-L F1 of one candidate against one reference."""
    cand, ref = tokens(candidate), tokens(reference)
    lcs = _lcs(ref, cand)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(cand), lcs / len(ref)
    return 2 * precision * recall / (precision + recall)


def best_rouge_l(candidate: str, references: Sequence[str]) -> float:
    """The best F1 over the references (TweetSumm and DialogSum have three per dialogue)."""
    return max((rouge_l(candidate, r) for r in references), default=0.0)
