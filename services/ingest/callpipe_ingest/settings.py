"""Settings of the ingest service (``INGEST_*``), read from the environment only in ``__main__``."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from callpipe.auth import OidcSettings, check_static_token
from callpipe.settings import KafkaSettings, RecordingStoreSettings, SchemaRegistrySettings, TopicSettings

__all__ = ["ConsentOnSilence", "IngestSettings"]


class ConsentOnSilence(StrEnum):
    """What a caller who neither presses nor says anything at the consent prompt has chosen."""

    DECLINED = "declined"  # the safe default: no recording without an explicit yes
    GRANTED = "granted"  # implied consent (staying on the line), where the law allows it


class IngestSettings(BaseSettings):
    """Ingest: HTTP server, Twilio webhooks, upload API, and the shared plumbing it publishes with."""

    model_config = SettingsConfigDict(env_prefix="INGEST_", env_nested_delimiter="__", extra="ignore")

    host: str = Field(default="127.0.0.1", description="Bind address (0.0.0.0 inside a container).")
    port: int = Field(default=8080, ge=1, le=65535)
    public_base_url: str | None = Field(
        default=None,
        description=(
            "Scheme+host(+path prefix) Twilio calls, e.g. https://calls.example.com. Signatures are "
            "computed over the public URL, which a proxy or load balancer hides from the app."
        ),
    )
    twilio_auth_token: SecretStr | None = Field(
        default=None, description="Twilio Auth Token; without it every Twilio webhook is refused (403)."
    )
    api_token: SecretStr | None = Field(
        default=None,
        description="Bearer token of the upload scope (POST /recordings, /transcripts); it cannot read "
        "or erase. Without it (and without AUTH_JWKS_URL) uploads are refused (503).",
    )
    max_upload_bytes: int = Field(default=512 * 1024 * 1024, ge=1, description="Largest accepted audio.")
    url_fetch_timeout_s: float = Field(default=60.0, gt=0, description="Download timeout for audio_url.")
    allow_private_urls: bool = Field(
        default=False,
        description="Allow audio_url to reach loopback/private/link-local addresses (SSRF guard off).",
    )
    audio_url_hosts: list[str] = Field(
        default_factory=list,
        description="If set, audio_url may only name these hosts (or their subdomains).",
    )
    docs_enabled: bool = Field(
        default=False, description="Serve /docs and /openapi.json (off: no API map for strangers)."
    )
    publish_timeout_s: float = Field(
        default=10.0, gt=0, description="Longest wait for the broker's ack before answering 503."
    )
    retry_after_s: int = Field(default=30, ge=1, description="Retry-After sent with 503 answers.")

    # Call flow (TwiML)
    disclosure: str = Field(
        default="This call may be recorded for quality and training purposes.",
        description="Spoken before anything else; empty to skip.",
    )
    consent_required: bool = Field(default=False, description="Ask the caller to accept the recording.")
    consent_prompt: str = Field(
        default="To accept recording, press 1 or say yes. To continue without recording, press 2 or say no."
    )
    consent_on_silence: ConsentOnSilence = ConsentOnSilence.DECLINED
    dial_target: str = Field(
        default="queue:support",
        description="Where calls go: queue:NAME, client:IDENTITY, sip:URI or an E.164 number.",
    )
    voice: str = Field(default="Polly.Joanna", description="Voice of <Say>.")
    language: str = Field(default="en-US")

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    oidc: OidcSettings = Field(default_factory=OidcSettings)

    @field_validator("api_token")
    @classmethod
    def _real_token(cls, value: SecretStr | None) -> SecretStr | None:
        return check_static_token("INGEST_API_TOKEN", value)

    @property
    def delivery_timeout_s(self) -> float:
        """The producer's own delivery timeout: shorter than ``publish_timeout_s``.

        librdkafka checks message timeouts about once a second. With equal timeouts the app could
        answer 503 while the record still sits in the producer's queue, and a broker coming back
        in that second would store it after the client was told to retry (a duplicate). Giving
        librdkafka the earlier deadline makes it drop the record first in the usual case.
        """
        return max(1.0, self.publish_timeout_s - 1.5)

    topics: TopicSettings = Field(default_factory=TopicSettings)
    schema_registry: SchemaRegistrySettings = Field(default_factory=SchemaRegistrySettings)
    recording_store: RecordingStoreSettings = Field(default_factory=RecordingStoreSettings)
