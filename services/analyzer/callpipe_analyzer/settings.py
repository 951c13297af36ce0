"""Analyzer settings (``ANALYZER_*``, ``ANALYZER_LLM_*``); constructed only in ``__main__`` and tools."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from callpipe.settings import RunnerSettings

__all__ = [
    "AnalyzerSettings",
    "LLMRunnerSettings",
    "LLMSettings",
    "OfflineRunnerSettings",
    "RedactionSettings",
    "runner_settings_for",
]


class LLMSettings(BaseSettings):
    """Any OpenAI-compatible chat-completions endpoint (OpenAI, Azure OpenAI, vLLM, Ollama …)."""

    # populate_by_name: code and tests still pass api_key=… although the variable has an alias.
    model_config = SettingsConfigDict(env_prefix="ANALYZER_LLM_", extra="ignore", populate_by_name=True)

    base_url: str | None = Field(default=None, description="None = api.openai.com.")
    api_key: SecretStr | None = Field(
        default=None,
        # OPENAI_API_KEY is the OpenAI convention, accepted so users need not rename their key.
        validation_alias=AliasChoices("ANALYZER_LLM_API_KEY", "OPENAI_API_KEY"),
        description="API key; OPENAI_API_KEY is read when this is unset (local servers accept any key).",
    )
    model: str = "gpt-4o-mini"
    temperature: float = 0.0
    timeout_s: float = Field(default=60.0, gt=0)
    max_concurrency: int = Field(default=32, ge=1, description="LLM requests in flight per instance.")
    max_retries: int = Field(default=3, ge=0, description="In-call retries on 429/5xx/timeouts.")
    retry_after_cap_s: float = Field(default=30.0, description="Longest Retry-After honoured in-call.")
    context_tokens: int = Field(default=128_000, description="Model context window.")
    max_output_tokens: int = Field(default=2_000)
    structured_output: bool = Field(default=True, description="False for servers without json_schema.")
    bounded_schema: bool = Field(
        default=False,
        description="Add maxItems to the schema's lists: set for llama.cpp, Ollama and vLLM so a small "
        "model cannot loop in a list until the token cap.",
    )
    sampler_options: dict[str, float] = Field(
        default_factory=dict,
        description='Extra sampler fields sent with each request, e.g. {"dry_multiplier": 0.8, '
        '"repeat_penalty": 1.15} for llama.cpp (stops small models repeating); OpenAI rejects unknown ones.',
    )


class RedactionSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ANALYZER_REDACT_", extra="ignore")

    enabled: bool = True
    cards: bool = True
    ssn: bool = True
    email: bool = True
    phone: bool = True
    unverified_card_digits: int = Field(
        default=13,
        ge=0,
        le=19,
        description="Digit runs this long are redacted as card numbers even when no Luhn check passes "
        "(misheard digits); 0 = Luhn-valid cards only.",
    )


class AudioRedactionSettings(BaseSettings):
    """PCI in audio (``ANALYZER_REDACT_AUDIO_*``): the archived recording's card numbers bleeped."""

    model_config = SettingsConfigDict(env_prefix="ANALYZER_REDACT_AUDIO_", extra="ignore")

    enabled: bool = Field(
        default=True, description="Write a redacted copy of the recording when card data or an SSN was said."
    )
    kinds: list[Literal["card_number", "card_security", "ssn", "phone", "email"]] = Field(
        default=["card_number", "card_security", "ssn"], description="What is removed from the audio."
    )
    mode: Literal["tone", "silence"] = Field(
        default="tone", description="Replace spans by a 1 kHz tone or silence."
    )
    pad_s: float = Field(default=0.25, ge=0, le=2, description="Margin either side of each span, seconds.")
    keep_original: bool = Field(
        default=False, description="Keep the unredacted original beside the copy (default: deleted)."
    )


class AnalyzerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ANALYZER_", extra="ignore")

    engine: Literal["offline", "llm"] = Field(default="offline", description="offline (default) or llm.")
    stage_name: str = Field(
        default="analyzer",
        pattern=r"^[a-z][a-z0-9_-]*$",
        description="Stage name: consumer group callpipe-NAME, metrics label, dead-letter topic PREFIX.NAME.",
    )
    config_path: Path | None = Field(default=None, description="analysis.yaml; None = the bundled one.")
    offline_model_path: Path | None = Field(
        default=None,
        description=(
            "model.json from python -m callpipe_tools.training.offline_analyzer; None = the bundled one."
        ),
    )
    llm: LLMSettings = Field(default_factory=LLMSettings)
    redaction: RedactionSettings = Field(default_factory=RedactionSettings)
    audio_redaction: AudioRedactionSettings = Field(default_factory=AudioRedactionSettings)


class OfflineRunnerSettings(RunnerSettings):
    """The runner settings (``RUNNER_*``) of the analyzer with the offline engine.

    Offline analysis is CPU-bound and its encoder already uses every core through BLAS threads:
    one call at a time (two calls at once, each with multi-threaded BLAS, measured 3x slower on
    2 cores).
    """

    max_in_flight: int = Field(
        default=1, ge=1, description="Offline engine: one call at a time (the encoder uses every core)."
    )


class LLMRunnerSettings(RunnerSettings):
    """The runner settings (``RUNNER_*``) of the analyzer with the LLM engine.

    An LLM call is ~1 s of waiting: the runner keeps as many calls in flight as the LLM client
    allows requests (``ANALYZER_LLM_MAX_CONCURRENCY``, 32), so one instance keeps them all busy.
    """

    max_in_flight: int = Field(
        default=32,
        ge=1,
        description="LLM engine: calls in flight; keep it ≥ ANALYZER_LLM_MAX_CONCURRENCY "
        "to use every request slot.",
    )


def runner_settings_for(engine: Literal["offline", "llm"]) -> type[RunnerSettings]:
    """The runner settings class (its declared defaults) of the analyzer with ``engine``."""
    return LLMRunnerSettings if engine == "llm" else OfflineRunnerSettings
