"""LLM analyzer over any OpenAI-compatible chat-completions endpoint (the only module importing openai).

Contract with the stage runner (callpipe.errors):
- 429 → retried here up to ``max_retries`` honouring Retry-After (capped), then
  ``RateLimitedError(retry_after)`` so the runner backs off without holding a slot forever;
- 5xx, timeouts, connection errors → same, as ``TransientError``;
- 401/403/404 (bad key, unknown model) → ``DependencyUnavailableError``: misconfiguration must pause
  consumption, not dead-letter every call;
- invalid JSON / schema violations → one repair request quoting the validation error, then
  ``InvalidOutputError`` (dead-letter with the reason); a refusal → ``InvalidOutputError`` at once;
- 400 (e.g. context too long) → ``InvalidInputError``.
Concurrency is bounded by a semaphore; transcripts over the context budget are chunked and merged.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any, cast

import httpx
import openai
from pydantic import ValidationError

from callpipe.errors import (
    DependencyUnavailableError,
    InvalidInputError,
    InvalidOutputError,
    RateLimitedError,
    TransientError,
)
from callpipe.models import (
    ActionItem,
    CallAnalysis,
    ChurnRisk,
    CompetitorMention,
    CustomAnswer,
    EscalationRisk,
    Role,
    SpeakerSentiment,
    TokenUsage,
)
from callpipe_analyzer.config import AnalysisConfig
from callpipe_analyzer.llm.prompt import (
    PROMPT_VERSION,
    analysis_schema,
    chunk_utterances,
    estimate_tokens,
    messages_for,
)
from callpipe_analyzer.ports import AnalysisRequest, AnalyzerResult
from callpipe_analyzer.sentiment import label_for
from callpipe_analyzer.settings import LLMSettings

__all__ = ["LLMAnalyzer"]

Sleep = Callable[[float], Awaitable[None]]


def _retry_after(response: Any) -> float | None:
    # openai types its responses with its own httpx alias; only .headers is used.
    if response is None:
        return None
    for header in ("retry-after-ms", "retry-after"):
        value = response.headers.get(header)
        if value is None:
            continue
        try:
            seconds = float(value)
        except ValueError:
            continue
        return seconds / 1000.0 if header == "retry-after-ms" else seconds
    return None


class LLMAnalyzer:
    kind = "llm"

    def __init__(
        self,
        settings: LLMSettings,
        config: AnalysisConfig,
        *,
        http_client: httpx.AsyncClient | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self.config = config
        self.model = settings.model
        self.prompt_version = f"{PROMPT_VERSION}+cfg.{config.fingerprint}"
        self._schema = analysis_schema(config, bounded=settings.bounded_schema)
        self._response_format = {
            "type": "json_schema",
            "json_schema": {"name": "call_analysis", "strict": True, "schema": self._schema},
        }
        self._sleep = sleep
        self._slots = asyncio.Semaphore(settings.max_concurrency)
        api_key = settings.api_key.get_secret_value() if settings.api_key else "not-needed"
        self._client = openai.AsyncOpenAI(
            api_key=api_key,
            base_url=settings.base_url,
            # Retries are ours: they must honour Retry-After and end in callpipe error classes.
            max_retries=0,
            timeout=settings.timeout_s,
            http_client=cast(Any, http_client),
        )

    def supports_language(self, language: str | None) -> bool:
        return True

    async def aclose(self) -> None:
        await self._client.close()

    async def analyze(self, request: AnalysisRequest) -> AnalyzerResult:
        budget = self.settings.context_tokens - self.settings.max_output_tokens - 2_000
        system_cost = estimate_tokens(messages_for(self.config, [])[0]["content"])
        chunks = chunk_utterances(request.utterances, max(1_000, budget - system_cost))
        usage = TokenUsage()
        results: list[CallAnalysis] = []
        for part, chunk in enumerate(chunks, start=1):
            messages = messages_for(self.config, chunk, part=part, parts=len(chunks))
            analysis, spent = await self._complete_validated(messages)
            results.append(analysis)
            usage = TokenUsage(
                prompt_tokens=usage.prompt_tokens + spent.prompt_tokens,
                completion_tokens=usage.completion_tokens + spent.completion_tokens,
                total_tokens=usage.total_tokens + spent.total_tokens,
            )
        flags = ["chunked"] if len(chunks) > 1 else []
        merged = results[0] if len(results) == 1 else _merge(results, [len(c) for c in chunks])
        return AnalyzerResult(merged, self.model, self.prompt_version, usage, flags)

    async def _complete_validated(self, messages: list[dict[str, str]]) -> tuple[CallAnalysis, TokenUsage]:
        content, usage = await self._complete(messages)
        try:
            return self._validate(content), usage
        except InvalidOutputError as first:
            # One repair attempt: show the model its answer and what was wrong with it.
            repair = [
                *messages,
                {"role": "assistant", "content": content},
                {
                    "role": "user",
                    "content": f"That answer is invalid: {first.message[:1500]}. "
                    "Reply again with only JSON matching the schema.",
                },
            ]
            content2, usage2 = await self._complete(repair)
            total = TokenUsage(
                prompt_tokens=usage.prompt_tokens + usage2.prompt_tokens,
                completion_tokens=usage.completion_tokens + usage2.completion_tokens,
                total_tokens=usage.total_tokens + usage2.total_tokens,
            )
            try:
                return self._validate(content2), total
            except InvalidOutputError as second:
                raise InvalidOutputError(f"LLM output invalid after one repair: {second.message}") from second

    def _validate(self, content: str) -> CallAnalysis:
        try:
            data = json.loads(content)
        except json.JSONDecodeError as exc:
            raise InvalidOutputError(f"not JSON: {exc}") from exc
        try:
            analysis = CallAnalysis.model_validate(data)
        except ValidationError as exc:
            raise InvalidOutputError(f"schema: {exc.errors(include_url=False)}") from exc
        if analysis.intent not in self.config.intents:
            raise InvalidOutputError(f"intent {analysis.intent!r} is not in the taxonomy")
        return analysis

    async def _complete(self, messages: list[dict[str, str]]) -> tuple[str, TokenUsage]:
        attempt = 0
        while True:
            try:
                async with self._slots:
                    return await self._request(messages)
            except (RateLimitedError, TransientError) as exc:
                attempt += 1
                if attempt > self.settings.max_retries:
                    raise
                delay = exc.retry_after if exc.retry_after is not None else min(8.0, 0.5 * 2 ** (attempt - 1))
                if delay > self.settings.retry_after_cap_s:
                    raise  # the runner pauses and retries later; don't hold a slot this long
                await self._sleep(delay)

    async def _request(self, messages: list[dict[str, str]]) -> tuple[str, TokenUsage]:
        kwargs: dict[str, Any] = {
            "model": self.settings.model,
            "messages": messages,
            "temperature": self.settings.temperature,
            "max_tokens": self.settings.max_output_tokens,
        }
        # response_format goes out through extra_body: the SDK otherwise walks the whole JSON schema
        # through its TypedDict transform on every request (~30 % of the analyzer's CPU per call at
        # 28 calls/s); the bytes on the wire are the same.
        if self.settings.structured_output:
            extra: dict[str, Any] = {"response_format": self._response_format}
        else:
            extra = {"response_format": {"type": "json_object"}}
        kwargs["extra_body"] = {**self.settings.sampler_options, **extra}
        try:
            completion = await self._client.chat.completions.create(**kwargs)
        except openai.RateLimitError as exc:
            raise RateLimitedError(
                f"LLM rate limited (429): {exc.message}", retry_after=_retry_after(exc.response)
            ) from exc
        except (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError) as exc:
            raise DependencyUnavailableError(
                f"LLM endpoint refused the configuration ({exc.status_code}): {exc.message}"
            ) from exc
        except openai.BadRequestError as exc:
            raise InvalidInputError(f"LLM rejected the request (400): {exc.message}") from exc
        except openai.APIStatusError as exc:
            raise TransientError(
                f"LLM server error ({exc.status_code}): {exc.message}", retry_after=_retry_after(exc.response)
            ) from exc
        except openai.APITimeoutError as exc:
            raise TransientError("LLM request timed out") from exc
        except openai.APIConnectionError as exc:
            raise TransientError(f"LLM endpoint unreachable: {exc.message}") from exc
        if not completion.choices:
            raise InvalidOutputError("LLM answered without choices")
        choice = completion.choices[0]
        message = choice.message
        if getattr(message, "refusal", None):
            raise InvalidOutputError(f"LLM refused: {message.refusal}")
        if choice.finish_reason == "length":
            raise InvalidOutputError("LLM output truncated (finish_reason=length)")
        u = completion.usage
        usage = TokenUsage(
            prompt_tokens=u.prompt_tokens if u else 0,
            completion_tokens=u.completion_tokens if u else 0,
            total_tokens=u.total_tokens if u else 0,
        )
        return message.content or "", usage


def _merge(parts: list[CallAnalysis], weights: list[int]) -> CallAnalysis:
    """Merge chunk analyses: the reason is stated early, the outcome late, lists are unions."""
    total = float(sum(weights)) or 1.0
    score = sum(p.sentiment_score * w for p, w in zip(parts, weights, strict=True)) / total
    risks = [EscalationRisk.LOW, EscalationRisk.MEDIUM, EscalationRisk.HIGH]
    churn_order = [ChurnRisk.LOW, ChurnRisk.MEDIUM, ChurnRisk.HIGH]
    competitors: Counter[str] = Counter()
    context: dict[str, str | None] = {}
    for p in parts:
        for m in p.competitor_mentions:
            competitors[m.name] += m.count
            context.setdefault(m.name, m.context)
    speakers: list[SpeakerSentiment] = []
    for role in (Role.CALLER, Role.AGENT):
        scores = [
            (s.score, w)
            for p, w in zip(parts, weights, strict=True)
            for s in p.speaker_sentiment
            if s.role is role
        ]
        if scores:
            value = sum(s * w for s, w in scores) / sum(w for _, w in scores)
            speakers.append(SpeakerSentiment(role=role, sentiment=label_for(value), score=round(value, 4)))
    answers: dict[str, CustomAnswer] = {}
    for p in parts:
        for a in p.custom_answers:
            # 'yes' anywhere in the call wins; an extraction keeps the first non-empty one.
            if a.question_id not in answers or answers[a.question_id].answer in ("", "no"):
                answers[a.question_id] = a
    actions: list[ActionItem] = []
    for p in parts:
        actions.extend(a for a in p.action_items if a not in actions)
    topics: list[str] = []
    for p in parts:
        topics.extend(t for t in p.key_topics if t not in topics)
    return CallAnalysis(
        summary=" ".join(p.summary for p in parts)[:2000],
        sentiment=label_for(score),
        sentiment_score=round(score, 4),
        speaker_sentiment=speakers,
        intent=parts[0].intent,
        key_topics=topics,
        action_items=actions,
        satisfaction_score=parts[-1].satisfaction_score,
        escalation_risk=max((p.escalation_risk for p in parts), key=risks.index),
        churn_risk=max((p.churn_risk for p in parts), key=churn_order.index),
        competitor_mentions=[
            CompetitorMention(name=n, count=c, context=context[n]) for n, c in competitors.items()
        ],
        custom_answers=list(answers.values()),
    )
