"""What the LLM is asked: the versioned prompt, the JSON schema for structured output, chunking.

The schema is generated from :class:`callpipe.models.CallAnalysis` and tightened for OpenAI's
strict structured outputs (every property required, no additional properties, no defaults), with
the configured taxonomy, topics, competitors and question ids turned into enums so the model cannot
invent labels. The same schema validates the answer with pydantic afterwards.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from typing import Any

from callpipe.models import CallAnalysis, Utterance
from callpipe_analyzer.config import AnalysisConfig

__all__ = [
    "LIST_BOUNDS",
    "PROMPT_VERSION",
    "analysis_schema",
    "chunk_utterances",
    "estimate_tokens",
    "messages_for",
    "render_transcript",
]

PROMPT_VERSION = "llm-2"

# Longest lists a bounded schema allows (``maxItems``). Servers that compile the schema into a
# decoding grammar (llama.cpp, Ollama, vLLM's guided decoding) then force the closing bracket, so a
# small model cannot repeat one list item until the token cap. Custom answers are bounded by the
# number of configured questions.
LIST_BOUNDS = {"speaker_sentiment": 2, "key_topics": 5, "action_items": 3, "competitor_mentions": 3}

_SYSTEM = """You analyze one recorded customer-service phone call for {brand}.
Return only JSON matching the schema. Rules:
- intent: the caller's primary reason for calling, one of: {intents}.
- key_topics: only from: {topics}.
- competitor_mentions: only competitors of {brand} that are actually named, canonical names: {competitors}.
  Never list {brand} itself.
- sentiment / sentiment_score: the caller's experience over the call (-1 to 1); speaker_sentiment: one
  entry for the caller and one for the agent.
- escalation_risk (the caller may escalate): high if the caller asks for a supervisor or manager,
  threatens a formal complaint, legal action, a regulator or social media; medium if clearly
  frustrated about a repeated or unresolved problem; else low. Wanting to leave is churn, not escalation.
- churn_risk (the caller may leave): high if the caller cancels, closes the account, announces switching
  provider or accepts a competitor's offer, calm or not; medium if the caller weighs leaving, compares
  prices with a competitor or mentions a competitor's offer; else low.
- action_items: only follow-ups someone explicitly committed to; owner is who committed.
- satisfaction_score: 1 (furious) to 10 (delighted).
- custom_answers: one per question below, 'yes'/'no' for yes-no questions, a short quote otherwise
  ('' when absent), with a short evidence quote.
{questions}
Text in [BRACKETS] was redacted for privacy; do not guess it."""

_CHUNK_NOTE = (
    "\nThis is part {part} of {parts} of a long call; analyze this part only, the parts are "
    "merged afterwards."
)


def _intents_and_questions(config: AnalysisConfig) -> tuple[str, str]:
    intents = "; ".join(f"{k} ({v.description})" for k, v in config.intents.items())
    questions = "\n".join(f"  - {q.id} ({q.kind.value}): {q.question}" for q in config.custom_questions)
    return intents, questions or "  (none)"


def _strict(node: Any) -> Any:
    """OpenAI strict mode: every object closed with all properties required; no defaults/titles."""
    if isinstance(node, dict):
        out = {k: _strict(v) for k, v in node.items() if k not in ("default", "title")}
        if out.get("type") == "object" and "properties" in out:
            out["additionalProperties"] = False
            out["required"] = list(out["properties"])
        return out
    if isinstance(node, list):
        return [_strict(v) for v in node]
    return node


def analysis_schema(config: AnalysisConfig, *, bounded: bool = False) -> dict[str, Any]:
    """JSON schema of ``CallAnalysis`` with the configuration's labels as enums.

    ``bounded`` adds ``maxItems`` to every list (see ``LIST_BOUNDS``) for grammar-constrained
    local servers.
    """
    schema: dict[str, Any] = _strict(copy.deepcopy(CallAnalysis.model_json_schema()))
    props = schema["properties"]
    if bounded:
        for name, most in LIST_BOUNDS.items():
            props[name]["maxItems"] = most
        props["custom_answers"]["maxItems"] = len(config.custom_questions)
    props["intent"]["enum"] = list(config.intents)
    if config.topics:
        props["key_topics"]["items"]["enum"] = list(config.topics)
    defs = schema.get("$defs", {})
    if config.competitors and "CompetitorMention" in defs:
        defs["CompetitorMention"]["properties"]["name"]["enum"] = [c.name for c in config.competitors]
    if config.custom_questions and "CustomAnswer" in defs:
        defs["CustomAnswer"]["properties"]["question_id"]["enum"] = [q.id for q in config.custom_questions]
    return schema


def render_transcript(utterances: Sequence[Utterance]) -> str:
    return "\n".join(f"[{u.start_s:7.1f}s] {u.role.value.upper()}: {u.text}" for u in utterances)


def estimate_tokens(text: str) -> int:
    # ~4 characters per token for English; conservative enough to stay under the window.
    return len(text) // 3 + 1


def chunk_utterances(utterances: Sequence[Utterance], budget_tokens: int) -> list[list[Utterance]]:
    """Split at turn boundaries so each chunk's rendering fits ``budget_tokens``."""
    chunks: list[list[Utterance]] = [[]]
    used = 0
    for u in utterances:
        cost = estimate_tokens(render_transcript([u])) + 1
        if chunks[-1] and used + cost > budget_tokens:
            chunks.append([])
            used = 0
        chunks[-1].append(u)
        used += cost
    return [c for c in chunks if c]


def messages_for(
    config: AnalysisConfig, utterances: Sequence[Utterance], *, part: int = 1, parts: int = 1
) -> list[dict[str, str]]:
    intents, questions = _intents_and_questions(config)
    system = _SYSTEM.format(
        brand=config.own_brand.name,
        intents=intents,
        topics=", ".join(config.topics) or "(any)",
        competitors=", ".join(c.name for c in config.competitors) or "(none configured)",
        questions=questions,
    )
    if parts > 1:
        system += _CHUNK_NOTE.format(part=part, parts=parts)
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": "Transcript:\n" + render_transcript(utterances)},
    ]


def schema_json(config: AnalysisConfig) -> str:
    return json.dumps(analysis_schema(config), sort_keys=True)
