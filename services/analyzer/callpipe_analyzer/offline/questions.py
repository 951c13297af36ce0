"""Answers to the configured custom questions (``custom_questions`` in ``analysis.yaml``): yes/no
by similarity of the asked party's sentences to the question's example sentences; extraction by
the question's pattern, first match in the asked party's sentences.
"""

from __future__ import annotations

import re

import numpy as np

from callpipe.models import CustomAnswer
from callpipe_analyzer.config import CustomQuestion, QuestionKind
from callpipe_analyzer.offline.encoder import MiniLMEncoder
from callpipe_analyzer.offline.features import Array, Sentences
from callpipe_analyzer.offline.lexicon import YES_SIMILARITY

__all__ = ["QuestionAnswerer"]


class QuestionAnswerer:
    """Embeds each yes/no question's examples once."""

    def __init__(self, questions: list[CustomQuestion], encoder: MiniLMEncoder) -> None:
        self._questions = [
            (q, encoder.encode(q.examples) if q.kind is QuestionKind.YES_NO else None) for q in questions
        ]

    def answers(self, sentences: Sentences, embeddings: Array) -> list[CustomAnswer]:
        answers: list[CustomAnswer] = []
        for question, examples in self._questions:
            rows = [
                i
                for i, (role, _) in enumerate(sentences)
                if question.speaker is None or role.value == question.speaker
            ]
            texts = [sentences[i][1] for i in rows]
            if question.kind is QuestionKind.YES_NO and examples is not None:
                if not rows:
                    answers.append(CustomAnswer(question_id=question.id, answer="no"))
                    continue
                sims = (embeddings[rows] @ examples.T).max(axis=1)
                best = int(np.argmax(sims))
                yes = float(sims[best]) >= YES_SIMILARITY
                answers.append(
                    CustomAnswer(
                        question_id=question.id,
                        answer="yes" if yes else "no",
                        evidence=texts[best] if yes else None,
                    )
                )
            elif question.pattern:
                regex = re.compile(question.pattern, re.IGNORECASE)
                hit = next(((m, t) for t in texts if (m := regex.search(t))), None)
                answers.append(
                    CustomAnswer(
                        question_id=question.id,
                        answer=hit[0].group(0) if hit else "",
                        evidence=hit[1] if hit else None,
                    )
                )
        return answers
