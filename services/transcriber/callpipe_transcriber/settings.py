"""Transcriber settings (``TRANSCRIBER_*``); read from the environment only in ``__main__``."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from callpipe import limits
from callpipe.models import Role

__all__ = ["TranscriberSettings"]


class TranscriberSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRANSCRIBER_", extra="ignore")

    engine: Literal["faster-whisper", "deepgram"] = "faster-whisper"
    language: str | None = Field(default="en", description="ISO 639-1; None = detect (multilingual models).")
    keyterms: list[str] = Field(
        default_factory=list,
        description="Custom vocabulary: brand and product names (Deepgram keyterm, Whisper hotwords).",
    )

    # faster-whisper — defaults chosen by measurement on the 8 kHz synthetic calls, the five
    # sample scripts and five held-out scripts (python -m callpipe_bench.transcriber_eval
    # --scripts all; figures in the transcriber notes). WER, sample / held-out set, per channel:
    #   tiny.en beam 5 + prompt 0.222 / 0.216; tiny.en + VAD pad 400 ms 0.208 / 0.204;
    #   base beam 5 + prompt 0.253 / 0.147 (the prompt made Whisper end windows early and drop
    #   whole turns); base, no prompt 0.160 / 0.155; + pre-emphasis 0.97: 0.140 / 0.131.
    whisper_model: str = Field(default="base", description="'tiny.en', 'base', a folder, or a hub name.")
    whisper_device: str = Field(default="cpu", description="'cpu', 'cuda' or 'auto'.")
    whisper_compute_type: str = Field(default="int8", description="int8 on CPU; float16 on GPU.")
    whisper_cpu_threads: int = Field(default=2, ge=1)
    whisper_workers: int = Field(default=1, ge=1, description="Calls transcribed in parallel (thread pool).")
    whisper_beam_size: int = Field(default=5, ge=1)
    whisper_vad_filter: bool = True
    whisper_vad_threshold: float = 0.3
    whisper_vad_min_silence_ms: int = 500
    whisper_vad_speech_pad_ms: int = Field(default=400, description="200 ms clipped turn starts.")
    whisper_initial_prompt: str | None = Field(
        default=None, description="Prompt text; off by default (it made Whisper drop turns)."
    )
    whisper_pre_emphasis: float = Field(
        default=0.97, ge=0, lt=1, description="Telephone-band pre-emphasis coefficient; 0 = off."
    )
    whisper_repetition_penalty: float = Field(
        default=1.0, ge=1.0, description="Penalty on tokens already generated; > 1 stops repetition loops."
    )
    # Repetition guard, chosen by per-call CPU time (time.process_time() around the stage: the
    # wall clock was not usable, a 1,000-call chaos run loaded both cores) on the same 10 calls;
    # cpuRTF@2 = CPU s / (audio s × 2 cores); on an idle box wall RTF was ≈ 2 × cpuRTF@2.
    #   setting (base, beam 5)       WER dual s/h   WER mono s/h   cpuRTF@2 dual mean/max
    #   none (before)                0.147 / 0.129  0.177 / 0.159  0.062 / 0.098 (billing ch0 7.2 s)
    #   temperature [0.0] only       0.131 / 0.129  0.177 / 0.159  0.063 / 0.096 (loop still decoded)
    #   repetition_penalty 1.1       0.198 / 0.175  0.181 / 0.161  0.057 / 0.064
    #   no_repeat_ngram_size 4       0.140 / 0.129  0.179 / 0.159  0.058 / 0.076  ← default
    # The 0.18 RTF call was one 30 s window of one channel where beam search looped (compression
    # ratio 5.6) to the token limit, then was decoded again at temperature 0.2; an n-gram ban stops
    # the loop as it forms and changes nothing on the windows that did not loop.
    # The figures above used the eval's former normalizer. With Whisper's standard one (and the
    # repeatable synthetic audio), these defaults on a near-idle box, `--scripts all`:
    #   keyterms off:       WER dual 0.148 / 0.138, mono 0.166 / 0.167; wall RTF max 0.131 / 0.144
    #   keyterms = brand:   WER dual 0.150 / 0.126, mono 0.159 / 0.123; wall RTF max 0.126 / 0.118
    #   (roles: dual 1.000, mono 0.975 / 0.983 attribution-based, both runs)
    whisper_no_repeat_ngram_size: int = Field(
        default=4, ge=0, description="Forbid repeating n-grams of this size (stops decoding loops); 0 = off."
    )
    # BatchedInferencePipeline, measured on the five sample calls (base, the defaults above,
    # back to back on the shared 2-core machine; `TRANSCRIBER_WHISPER_BATCH_SIZE=8 ./dev bench
    # transcriber --scripts sample` against the same without):
    #   sequential: WER dual 0.127, mono 0.155; roles mono 0.995; cpuRTF@2 dual 0.068 / max 0.084
    #   batch 8:    WER dual 0.124, mono 0.169; roles mono 1.000; cpuRTF@2 dual 0.060 / max 0.067
    # 12 % less CPU, but mono WER +0.014 (the pipeline decodes VAD chunks without the previous
    # window's context): off by default; a deployment short of CPU can turn it on.
    whisper_batch_size: int = Field(
        default=0,
        ge=0,
        description="Decode VAD chunks in batches of this size (BatchedInferencePipeline); 0 = sequential.",
    )
    model_cache_dir: Path = Field(default=Path("var/models"), description="Where split models are joined.")

    # Deepgram
    deepgram_api_key: SecretStr | None = None
    deepgram_model: str = "nova-3"
    deepgram_base_url: str = "https://api.deepgram.com"
    deepgram_timeout_s: float = 300.0

    # Input limits
    max_audio_duration_s: float = Field(
        default=limits.AUDIO_MAX_DURATION_S,
        ge=limits.AUDIO_MAX_DURATION_S,
        description=(
            "Longer recordings are dead-lettered with the reason (decoding stops at the limit)."
            " Defaults to the limit ingest enforces before its 201 (callpipe.limits); it may be"
            " raised for Twilio recordings, which ingest does not decode, never lowered below it."
        ),
    )

    # Download
    download_max_bytes: int = 512 * 1024 * 1024
    download_timeout_s: float = 60.0
    download_attempts: int = 3
    download_hosts: list[str] = Field(
        default_factory=list,
        description=(
            "If set, recordings are downloaded only from these hosts (or their subdomains), on every"
            ' redirect hop too, e.g. ["api.twilio.com"] plus the host it redirects media to.'
            " Empty: any public host."
        ),
    )
    allow_private_urls: bool = Field(
        default=False,
        description="Allow downloads from loopback/private/link-local addresses (SSRF guard off).",
    )
    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None

    # Roles (mono / unmapped channels)
    agent_phrases: list[str] | None = Field(
        default=None, description="Replace the built-in agent cues (role_cues.AGENT_PHRASES; lower case)."
    )
    caller_phrases: list[str] | None = Field(
        default=None, description="Replace the built-in caller cues (role_cues.CALLER_PHRASES; lower case)."
    )
    first_speaker_role: Role = Role.AGENT
    role_min_confidence: float = Field(default=0.7, ge=0, le=1)
