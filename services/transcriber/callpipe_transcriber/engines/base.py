"""The one interface every speech-to-text engine implements.

An engine turns audio into ``EngineSegment``s. For multichannel audio each segment carries its
``channel`` (one party per channel); for mono audio the engine either diarizes itself (Deepgram:
``speaker`` = "spk0", "spk1", …) or returns undiarized segments with word timings and leaves
speaker separation to callpipe's own diarizer (``EngineResult.diarized`` is False then).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from callpipe.models import Word
from callpipe_transcriber.audio import DecodedAudio

__all__ = ["EngineRequest", "EngineResult", "EngineSegment", "SpeechEngine"]


@dataclass(frozen=True, slots=True)
class EngineSegment:
    """A stretch of speech by one channel or speaker."""

    start_s: float
    end_s: float
    text: str
    channel: int | None = None
    speaker: str | None = None
    confidence: float | None = None
    words: tuple[Word, ...] = ()


@dataclass(frozen=True, slots=True)
class EngineResult:
    segments: list[EngineSegment]
    language: str | None
    diarized: bool = False  # True when the engine assigned ``speaker`` labels on mono audio
    model: str = ""


@dataclass(frozen=True, slots=True)
class EngineRequest:
    """What the stage hands an engine: the raw bytes (cloud engines upload them as they are) and
    the decoded audio (local engines use it; no second decode)."""

    data: bytes
    content_type: str | None
    audio: DecodedAudio
    multichannel: bool
    language: str | None = None
    keyterms: tuple[str, ...] = field(default=())
    # Multichannel: the channels holding a party (channel analysis); empty = all. Engines that
    # decode the audio themselves may return every channel: the stage keeps only these.
    channels: tuple[int, ...] = field(default=())


class SpeechEngine(Protocol):
    """A speech-to-text engine. ``transcribe`` must not block the event loop."""

    @property
    def name(self) -> str: ...

    @property
    def model(self) -> str: ...

    async def warm_up(self) -> None:
        """Load what the first call would otherwise wait for (model weights); called at startup."""
        ...

    async def transcribe(self, request: EngineRequest) -> EngineResult: ...

    async def aclose(self) -> None: ...
