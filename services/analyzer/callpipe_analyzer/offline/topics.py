"""Key topics: the configured topic keywords (``topics`` in ``analysis.yaml``) counted in the call,
as written and lemmatised with spaCy's tagger ("charges" counts for "charge"); the most frequent first.
"""

from __future__ import annotations

from typing import Any

from callpipe_analyzer.offline.lexicon import MAX_TOPICS, TOPIC_TEXT_LIMIT

__all__ = ["TopicTagger"]


class TopicTagger:
    """``nlp``: a spaCy pipeline with a lemmatizer (the analyzer's, shared)."""

    def __init__(self, topics: dict[str, list[str]], nlp: Any) -> None:
        self._topics = topics
        self._nlp = nlp

    def topics(self, text: str) -> list[str]:
        doc = self._nlp(text[:TOPIC_TEXT_LIMIT])
        lemmas = " " + " ".join(t.lemma_.lower() for t in doc) + " "
        raw = " " + text.lower() + " "
        found: list[tuple[int, str]] = []
        for topic, keywords in self._topics.items():
            hits = sum(raw.count(f" {k} ") + lemmas.count(f" {k} ") for k in keywords)
            if hits:
                found.append((hits, topic))
        return [t for _, t in sorted(found, reverse=True)[:MAX_TOPICS]]
