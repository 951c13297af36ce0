"""What the offline analyzer computes once per call and shares: sentence embeddings, the intent
evidence and each party's sentiment features (also what ``train`` fits the supervised models on).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from callpipe.models import Role
from callpipe_analyzer.config import AnalysisConfig
from callpipe_analyzer.offline.encoder import MiniLMEncoder
from callpipe_analyzer.offline.intent import INTENT_FEATURES, IntentEvidence
from callpipe_analyzer.offline.lexicon import KEYWORD_BONUS, RESOLVED, SENTENCE
from callpipe_analyzer.offline.supervised import (
    caller_vector,
    example_features,
    salient_mean,
    sentiment_features,
    top_similarity,
)
from callpipe_analyzer.ports import AnalysisRequest
from callpipe_analyzer.sentiment import agent_cues, speaker_score

__all__ = ["CallFeatureExtractor", "CallFeatures", "Sentences"]

Array = npt.NDArray[np.float32]
Sentences = list[tuple[Role, str]]


@dataclass(frozen=True)
class CallFeatures:
    """What the supervised models see of one call (also what ``train`` fits them on)."""

    intent_scores: Array  # zero-shot vote + keyword bonus, one per intent
    intent_evidence: Array  # (intents, INTENT_FEATURES), ``neighbours`` still 0
    caller_vector: Array  # position-weighted caller sentence embedding
    sentiment: Array  # caller sentiment features (all of supervised.SENTIMENT_GROUPS, in order)
    agent_sentiment: Array  # the same features of the agent's side
    caller_rollup: float  # the VADER roll-up of the caller's turns
    resolved: bool


class CallFeatureExtractor:
    """Embeds the taxonomy's examples and the sentiment examples once; then one call at a time."""

    def __init__(self, config: AnalysisConfig, encoder: MiniLMEncoder) -> None:
        self.encoder = encoder
        labels = list(config.intents)
        example_texts: list[str] = []
        example_owner: list[int] = []
        for idx, spec in enumerate(config.intents.values()):
            for text in [spec.description, *spec.examples]:
                example_texts.append(text)
                example_owner.append(idx)
        inquiry = config.inquiry_intent
        self.evidence = IntentEvidence(
            self.encoder.encode(example_texts),
            np.array(example_owner),
            [[k.lower() for k in spec.keywords] for spec in config.intents.values()],
            labels.index(inquiry) if inquiry is not None else None,
        )
        protos = config.sentiment_examples
        self._sent_pos = self.encoder.encode(protos.get("positive", []))
        self._sent_neg = self.encoder.encode(protos.get("negative", []))
        self._sent_neu = self.encoder.encode(protos.get("neutral", []))

    def embed(self, request: AnalysisRequest) -> tuple[Sentences, Array]:
        # Every sentence of the call is embedded once and shared by intent, sentiment and questions.
        sentences = [
            (u.role, s.strip()) for u in request.utterances for s in SENTENCE.split(u.text) if s.strip()
        ]
        return sentences, self.encoder.encode([s for _, s in sentences])

    def features(self, request: AnalysisRequest, sentences: Sentences, embeddings: Array) -> CallFeatures:
        caller_rows = [i for i, (role, _) in enumerate(sentences) if role is not Role.AGENT]
        caller_emb = embeddings[caller_rows]
        cues = agent_cues([u.text for u in request.utterances if u.role is Role.AGENT])
        caller, rollup, resolved = self._party_sentiment(request, sentences, embeddings, cues, agent=False)
        agent, _, _ = self._party_sentiment(request, sentences, embeddings, cues, agent=True)
        evidence = self.evidence.matrix(sentences, embeddings)
        keywords = evidence[:, INTENT_FEATURES.index("keywords_caller")]
        return CallFeatures(
            intent_scores=evidence[:, INTENT_FEATURES.index("vote")] + KEYWORD_BONUS * keywords,
            intent_evidence=evidence,
            caller_vector=caller_vector([sentences[i][1] for i in caller_rows], caller_emb),
            sentiment=caller,
            agent_sentiment=agent,
            caller_rollup=rollup,
            resolved=resolved,
        )

    def _party_sentiment(
        self,
        request: AnalysisRequest,
        sentences: Sentences,
        embeddings: Array,
        cues: tuple[int, ...],
        *,
        agent: bool,
    ) -> tuple[Array, float, bool]:
        """One party's sentiment features (all of ``SENTIMENT_GROUPS``), its VADER roll-up and, for
        the caller, whether the call ends resolved. The agent cues are the agent's words in both:
        they describe the agent and answer the caller."""
        utterances = request.utterances
        turns = [i for i, u in enumerate(utterances) if (u.role is Role.AGENT) == agent]
        rows = [i for i, (role, _) in enumerate(sentences) if (role is Role.AGENT) == agent]
        scores = [request.sentiments[i] for i in turns]
        rollup = speaker_score(scores)
        resolved = not agent and bool(RESOLVED.search(" ".join(utterances[i].text for i in turns[-3:])))
        emb = embeddings[rows]
        # Each sentence against each bank once: the best match gives the margin, the best three
        # the closeness per class.
        neg, neu, pos = (emb @ bank.T for bank in (self._sent_neg, self._sent_neu, self._sent_pos))
        if len(rows) and pos.shape[1] and neg.shape[1]:
            margins = (pos.max(axis=1) - neg.max(axis=1)).tolist()
        else:
            margins = [0.0] * len(rows)
        by_class = top_similarity([neg, neu, pos])
        vector = np.concatenate(
            [
                sentiment_features(scores, rollup, margins or [0.0], resolved),
                example_features(by_class),
                np.asarray(cues, dtype=np.float32),
                salient_mean(emb, by_class),
            ]
        )
        return vector, rollup, resolved
