"""Build the configured engine from settings."""

from __future__ import annotations

import httpx

from callpipe.errors import DependencyUnavailableError
from callpipe_transcriber.engines.base import SpeechEngine
from callpipe_transcriber.engines.whisper import WhisperEngine, WhisperOptions
from callpipe_transcriber.settings import TranscriberSettings

__all__ = ["build_engine", "whisper_options"]


def whisper_options(settings: TranscriberSettings) -> WhisperOptions:
    return WhisperOptions(
        model=settings.whisper_model,
        device=settings.whisper_device,
        compute_type=settings.whisper_compute_type,
        cpu_threads=settings.whisper_cpu_threads,
        workers=settings.whisper_workers,
        cache_dir=settings.model_cache_dir,
        beam_size=settings.whisper_beam_size,
        language=settings.language,
        vad_filter=settings.whisper_vad_filter,
        vad_parameters={
            "threshold": settings.whisper_vad_threshold,
            "min_silence_duration_ms": settings.whisper_vad_min_silence_ms,
            "speech_pad_ms": settings.whisper_vad_speech_pad_ms,
        },
        initial_prompt=settings.whisper_initial_prompt or None,  # "" in the environment = no prompt
        pre_emphasis=settings.whisper_pre_emphasis,
        repetition_penalty=settings.whisper_repetition_penalty,
        no_repeat_ngram_size=settings.whisper_no_repeat_ngram_size,
        batch_size=settings.whisper_batch_size,
    )


def build_engine(settings: TranscriberSettings, http: httpx.AsyncClient | None = None) -> SpeechEngine:
    if settings.engine == "faster-whisper":
        return WhisperEngine(whisper_options(settings))
    if settings.deepgram_api_key is None:
        raise DependencyUnavailableError("TRANSCRIBER_ENGINE=deepgram needs TRANSCRIBER_DEEPGRAM_API_KEY")
    from callpipe_transcriber.engines.deepgram import DeepgramEngine, DeepgramOptions

    return DeepgramEngine(
        DeepgramOptions(
            api_key=settings.deepgram_api_key,
            model=settings.deepgram_model,
            base_url=settings.deepgram_base_url,
            timeout_s=settings.deepgram_timeout_s,
        ),
        http=http,
    )
