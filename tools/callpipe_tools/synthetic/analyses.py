"""Synthetic ``CallAnalyzed`` records (plain dicts in the Avro shape) for seeding and benchmarks.

Deterministic for a seed. Calls spread uniformly over ``days`` before ``end``; an optional
``surge`` raises one topic's share in the last ``surge_hours`` so trend detection has a known
answer to find. Records go through ``AvroSerde.serialize_dict`` unchanged, so what the benchmark
and the tests seed is exactly what the analyzer publishes.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

__all__ = ["INTENTS", "TOPICS", "Surge", "synthetic_analyses"]

INTENTS = ("billing_dispute", "cancel_service", "technical_support", "upgrade_plan", "new_service", "other")
_INTENT_WEIGHTS = (25, 10, 30, 12, 15, 8)
TOPICS = (
    "billing",
    "refund",
    "outage",
    "router",
    "pricing",
    "contract",
    "installation",
    "roaming",
    "upgrade",
)
_COMPETITORS = ("Globex", "Initech", "Umbrella")
_QUEUES = ("billing", "support", "sales", "retention", "general")
_SENTIMENTS = ("negative", "neutral", "positive", "mixed")
_RISKS = ("low", "medium", "high")
_PHRASES = (
    "I was charged twice for my internet bill this month.",
    "My router keeps dropping the connection every evening.",
    "I want to cancel my contract, Globex offered a better price.",
    "Can you tell me about the upgrade options for my plan?",
    "There is an outage in my area since this morning.",
    "I need a refund for the installation fee.",
    "Thank you for calling, how can I help you today?",
    "Let me check that for you, one moment please.",
)


@dataclass(frozen=True)
class Surge:
    topic: str = "outage"
    hours: int = 24
    extra_share: float = 0.25  # added probability that a recent call mentions the topic


def synthetic_analyses(
    count: int,
    *,
    end: datetime,
    days: int = 30,
    seed: int = 7,
    agents: int = 50,
    utterances: int = 4,
    surge: Surge | None = None,
    id_prefix: str = "CA",
) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    # churn_risk draws from its own generator, so the calls of a seed stay what they were before
    # the field existed (tests and benchmarks compare against those).
    churn_rng = random.Random(seed ^ 0x5EED)
    # Categories and scorecards (CallAnalyzed v3) likewise: their own generator.
    quality_rng = random.Random(seed ^ 0xCA7)
    span = days * 86400.0
    for n in range(count):
        started = end - timedelta(seconds=rng.random() * span)
        intent = rng.choices(INTENTS, _INTENT_WEIGHTS)[0]
        topics = rng.sample(TOPICS, rng.randint(1, 3))
        recent = surge is not None and end - started <= timedelta(hours=surge.hours)
        if surge is not None and recent and surge.topic not in topics and rng.random() < surge.extra_share:
            topics.append(surge.topic)
        sentiment = rng.choice(_SENTIMENTS)
        score = {"negative": -0.6, "neutral": 0.0, "positive": 0.6, "mixed": -0.1}[sentiment]
        competitor = rng.choice(_COMPETITORS) if rng.random() < 0.1 else None
        duration = rng.uniform(60, 900)
        silence = duration * rng.uniform(0.05, 0.3)
        caller_share = rng.uniform(0.3, 0.6)
        call_id = f"{id_prefix}{n:032d}"
        analyzed = started + timedelta(seconds=duration + 120)
        yield {
            "call_id": call_id,
            "recording_id": "RE" + call_id[len(id_prefix) :],
            "source": "twilio",
            "status": "ok",
            "language": "en",
            "flags": [],
            "analysis": {
                "summary": f"Caller asked about {intent.replace('_', ' ')}.",
                "sentiment": sentiment,
                "sentiment_score": score,
                "speaker_sentiment": [
                    {"role": "caller", "sentiment": sentiment, "score": score},
                    {"role": "agent", "sentiment": "positive", "score": rng.uniform(0.1, 0.8)},
                ],
                "intent": intent,
                "key_topics": topics,
                "action_items": [{"text": "Follow up by email", "owner": "agent"}]
                if rng.random() < 0.3
                else [],
                "satisfaction_score": rng.randint(1, 10),
                "escalation_risk": rng.choices(_RISKS, (70, 22, 8))[0],
                "churn_risk": churn_rng.choices(
                    _RISKS, (10, 30, 60) if intent == "cancel_service" else (80, 15, 5)
                )[0],
                "competitor_mentions": (
                    [{"name": competitor, "count": rng.randint(1, 3), "context": None}] if competitor else []
                ),
                "custom_answers": [],
            },
            "metrics": {
                "duration_s": duration,
                "talk_time_s": duration - silence,
                "silence_s": silence,
                "silence_share": silence / duration,
                "overlap_s": rng.uniform(0, 5),
                "turn_count": utterances,
                "longest_monologue_s": rng.uniform(5, 60),
                "roles": [
                    _role("caller", caller_share, duration, rng),
                    _role("agent", 1 - caller_share - silence / duration, duration, rng),
                ],
            },
            "redaction": {"enabled": True, "counts": {}},
            "analyzer": "offline",
            "analyzer_version": "0.1.0",
            "model": "minilm-l6-v2+rules",
            "prompt_version": "offline-1",
            "token_usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            "stt_engine": "faster-whisper",
            "stt_model": "tiny.en",
            "audio_uri": f"file:///var/recordings/{call_id}.wav",
            "audio_duration_s": duration,
            "utterances": [
                {
                    "role": "agent" if i % 2 == 0 else "caller",
                    "speaker": f"ch{1 - i % 2}",
                    "channel": 1 - i % 2,
                    "start_s": i * 5.0,
                    "end_s": i * 5.0 + 4.0,
                    "text": rng.choice(_PHRASES),
                    "sentiment": rng.uniform(-1, 1),
                }
                for i in range(utterances)
            ],
            "metadata": {
                "from_number": f"+1555{rng.randint(0, 9999999):07d}",
                "to_number": "+15559870000",
                "direction": "inbound",
                "agent_id": f"agent-{rng.randrange(agents):03d}",
                "queue": rng.choice(_QUEUES),
                "started_at": started,
                "consent": "granted",
                "attributes": {},
            },
            "received_at": started + timedelta(seconds=duration + 5),
            "analyzed_at": analyzed,
            "timings": [{"stage": "analyzer.analyze", "seconds": 0.2}],
            **_quality(quality_rng, intent),
        }


# Starter categories (analysis.yaml) with a plausible share of calls each.
_CATEGORY_SHARES = {
    "recording_disclosure_missing": 0.08,
    "no_greeting": 0.05,
    "supervisor_requested": 0.04,
    "cancellation_threat": 0.06,
    "long_silence": 0.10,
    "agent_talked_over_caller": 0.07,
}
_QA_QUESTIONS = (
    ("recording_disclosure", 3.0, "recording_disclosure_missing"),
    ("greeting", 2.0, "no_greeting"),
    ("no_talk_over", 1.0, "agent_talked_over_caller"),
    ("no_escalation_request", 1.0, "supervisor_requested"),
)


def _quality(rng: random.Random, intent: str) -> dict[str, Any]:
    """Categories with one evidence each and the standard_qa scorecard that follows from them."""
    names = [
        name
        for name, share in _CATEGORY_SHARES.items()
        if rng.random()
        < (share * 3 if name == "cancellation_threat" and intent == "cancel_service" else share)
    ]
    categories = [
        {
            "name": name,
            "evidence": [
                {
                    "rule": name,
                    "utterance_index": 1,
                    "start_s": 5.0,
                    "end_s": 9.0,
                    "text": "synthetic evidence",
                }
            ],
        }
        for name in names
    ]
    answers = [
        {
            "question_id": qid,
            "weight": weight,
            "passed": category not in names,
            "points": 0.0 if category in names else weight,
            "reason": f"{category} {'matched' if category in names else 'not matched'}",
        }
        for qid, weight, category in _QA_QUESTIONS
    ]
    critical_failed = "recording_disclosure_missing" in names
    total = sum(w for _, w, _ in _QA_QUESTIONS)
    points = sum(0.0 if category in names else weight for _, weight, category in _QA_QUESTIONS)
    score = 0.0 if critical_failed else round(100 * points / total, 1)
    return {
        "categories": categories,
        "scorecards": [{"form": "standard_qa", "score": score, "answers": answers}],
    }


def _role(role: str, share: float, duration: float, rng: random.Random) -> dict[str, Any]:
    talk = max(share, 0.0) * duration
    words = int(talk * 2.5)
    return {
        "role": role,
        "talk_time_s": talk,
        "talk_share": max(share, 0.0),
        "words": words,
        "words_per_minute": words / (talk / 60) if talk > 0 else 0.0,
        "turns": rng.randint(2, 20),
        "interruptions": rng.randint(0, 5),
        "longest_monologue_s": rng.uniform(5, 60),
        "sentiment_start": rng.uniform(-1, 1),
        "sentiment_end": rng.uniform(-1, 1),
    }
