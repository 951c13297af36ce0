"""Deepgram pre-recorded (``/v1/listen``) engine through deepgram-sdk, with an injectable httpx client.

Request: the raw audio bytes as uploaded (Deepgram decodes every container itself), with
``model`` (nova-3 default), ``multichannel=true`` for dual-channel audio (one transcript per
channel) or ``diarize=true`` for mono, ``utterances``, ``smart_format``, ``punctuate``,
``keyterm`` (custom vocabulary) and ``language``. The SDK's own retries are off
(``max_retries=0``): the stage runner owns retry policy, so a 429 becomes RateLimitedError with
Deepgram's Retry-After and a 5xx TransientError; 400 (audio Deepgram cannot decode) is
InvalidInputError; 401/402/403 (key or balance) is DependencyUnavailableError — pause, not DLQ;
a 2xx whose body is cut-off JSON, a timeout or a dropped connection is TransientError.

Response: ``results.utterances[]`` (each with ``channel`` and, when diarized, ``speaker``) is
preferred; without it the per-channel ``results.channels[].alternatives[0].words[]`` are used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import SecretStr

from callpipe.errors import (
    DependencyUnavailableError,
    InvalidInputError,
    InvalidOutputError,
    RateLimitedError,
    TransientError,
)
from callpipe.models import Word
from callpipe_transcriber.engines.base import EngineRequest, EngineResult, EngineSegment
from callpipe_transcriber.fetch import parse_retry_after

__all__ = ["DeepgramEngine", "DeepgramOptions", "parse_deepgram_response"]


@dataclass(frozen=True, slots=True)
class DeepgramOptions:
    api_key: SecretStr
    model: str = "nova-3"
    base_url: str = "https://api.deepgram.com"
    timeout_s: float = 300.0
    smart_format: bool = True


class DeepgramEngine:
    """``SpeechEngine`` backed by Deepgram's pre-recorded API."""

    def __init__(self, options: DeepgramOptions, *, http: httpx.AsyncClient | None = None) -> None:
        from deepgram import AsyncDeepgramClient
        from deepgram.environment import DeepgramClientEnvironment

        self._options = options
        self._own_http = http is None
        self._http = http or httpx.AsyncClient(timeout=httpx.Timeout(options.timeout_s, connect=10.0))
        environment = DeepgramClientEnvironment(
            base=options.base_url,
            production=options.base_url.replace("https://", "wss://").replace("http://", "ws://"),
            agent="wss://agent.deepgram.com",
            agent_rest="https://agent.deepgram.com",
        )
        self._client = AsyncDeepgramClient(
            api_key=options.api_key.get_secret_value(),
            httpx_client=self._http,
            environment=environment,
            telemetry_opt_out=True,
        )

    @property
    def name(self) -> str:
        return "deepgram"

    @property
    def model(self) -> str:
        return self._options.model

    async def transcribe(self, request: EngineRequest) -> EngineResult:
        from deepgram.core.api_error import ApiError

        params: dict[str, Any] = {
            "model": self._options.model,
            "smart_format": self._options.smart_format,
            "punctuate": True,
            "utterances": True,
        }
        if request.multichannel:
            params["multichannel"] = True
        else:
            params["diarize"] = True
        if request.language:
            params["language"] = request.language
        if request.keyterms:
            params["keyterm"] = list(request.keyterms)
        try:
            response = await self._client.listen.v1.media.transcribe_file(
                request=request.data, request_options={"max_retries": 0}, **params
            )
        except ApiError as exc:
            raise _translate(exc) from exc
        except httpx.TimeoutException as exc:
            raise TransientError(f"deepgram timed out: {type(exc).__name__}") from exc
        except httpx.TransportError as exc:
            raise TransientError(f"deepgram unreachable: {type(exc).__name__}") from exc
        body = response.model_dump(mode="json") if hasattr(response, "model_dump") else dict(response)
        return parse_deepgram_response(body, multichannel=request.multichannel, model=self._options.model)

    async def warm_up(self) -> None:
        """Nothing to load: a hosted engine (the key is checked by the first request)."""

    async def aclose(self) -> None:
        if self._own_http:
            await self._http.aclose()


def _translate(exc: Any) -> Exception:
    status = exc.status_code or 0
    headers = {k.lower(): v for k, v in (exc.headers or {}).items()}
    detail = str(exc.body)[:300]
    if status == 429:
        return RateLimitedError(
            f"deepgram throttled (429): {detail}", retry_after=parse_retry_after(headers.get("retry-after"))
        )
    if status >= 500:
        return TransientError(f"deepgram error {status}: {detail}")
    if 200 <= status < 300:
        # The SDK raises ApiError with the 2xx status when the body is not JSON: a response cut
        # off by a proxy or a dropped connection. Asking again is the cure, so it is transient.
        return TransientError(f"deepgram answered {status} with a body that is not valid JSON (cut off?)")
    if status in (401, 402, 403):
        return DependencyUnavailableError(f"deepgram refused the key ({status}): {detail}")
    if status in (400, 413, 415, 422):
        return InvalidInputError(f"deepgram rejected the audio ({status}): {detail}")
    return TransientError(f"deepgram error {status}: {detail}")


def _words(raw: list[dict[str, Any]]) -> tuple[Word, ...]:
    return tuple(
        Word(
            word=str(w.get("punctuated_word") or w["word"]),
            start_s=round(float(w["start"]), 3),
            end_s=round(float(w["end"]), 3),
            confidence=float(w["confidence"]) if w.get("confidence") is not None else None,
        )
        for w in raw
    )


def parse_deepgram_response(body: dict[str, Any], *, multichannel: bool, model: str) -> EngineResult:
    """Engine segments from a documented ``/v1/listen`` response body."""
    try:
        results = body["results"]
        channels = results["channels"]
        language = next((c.get("detected_language") for c in channels if c.get("detected_language")), None)
        segments: list[EngineSegment] = []
        utterances = results.get("utterances")
        if utterances is not None:
            for utt in utterances:
                channel = int(utt.get("channel", 0))
                speaker = utt.get("speaker")
                segments.append(
                    EngineSegment(
                        start_s=round(float(utt["start"]), 3),
                        end_s=round(float(utt["end"]), 3),
                        text=str(utt["transcript"]).strip(),
                        channel=channel if multichannel else None,
                        speaker=f"ch{channel}" if multichannel else f"spk{int(speaker or 0)}",
                        confidence=float(utt["confidence"]) if utt.get("confidence") is not None else None,
                        words=_words(utt.get("words", [])),
                    )
                )
        else:
            for index, channel in enumerate(channels):
                alternative = channel["alternatives"][0]
                words = _words(alternative.get("words", []))
                if not words:
                    continue
                segments.append(
                    EngineSegment(
                        start_s=words[0].start_s,
                        end_s=words[-1].end_s,
                        text=str(alternative["transcript"]).strip(),
                        channel=index if multichannel else None,
                        speaker=f"ch{index}" if multichannel else "spk0",
                        confidence=float(alternative.get("confidence", 0.0)),
                        words=words,
                    )
                )
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise InvalidOutputError(f"deepgram response does not match the documented shape: {exc!r}") from exc
    segments = [s for s in segments if s.text]
    segments.sort(key=lambda s: (s.start_s, s.channel or 0))
    diarized = not multichannel and utterances is not None
    return EngineResult(segments=segments, language=language, diarized=diarized, model=model)
