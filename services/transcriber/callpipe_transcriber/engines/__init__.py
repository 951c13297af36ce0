"""Speech-to-text engines behind one interface (``SpeechEngine``)."""

from callpipe_transcriber.engines.base import EngineRequest, EngineResult, EngineSegment, SpeechEngine

__all__ = ["EngineRequest", "EngineResult", "EngineSegment", "SpeechEngine"]
