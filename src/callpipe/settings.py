"""Typed settings shared by the services. Only service entry points construct them (reading the
environment); libraries receive them as arguments. Secrets are ``SecretStr`` and never logged.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = [
    "PLACEHOLDER_SECRET",
    "KafkaSettings",
    "RecordingStoreSettings",
    "RetentionSettings",
    "RunnerSettings",
    "SchemaRegistrySettings",
    "TopicSettings",
    "refuse_placeholder",
]

# The value the committed .env uses so that `docker compose config` validates on a fresh clone.
PLACEHOLDER_SECRET = "changethis"  # noqa: S105 - the value we refuse, not a secret


def refuse_placeholder(value: SecretStr | None) -> SecretStr | None:
    """Validator: a secret still set to the .env placeholder is a deployment mistake, not a value."""
    if value is not None and value.get_secret_value().strip() == PLACEHOLDER_SECRET:
        raise ValueError(f"still the placeholder {PLACEHOLDER_SECRET!r}: set a real secret")
    return value


class KafkaSettings(BaseSettings):
    """Broker connection (``KAFKA_*``)."""

    model_config = SettingsConfigDict(env_prefix="KAFKA_", extra="ignore")

    bootstrap_servers: str = Field(default="127.0.0.1:9092", description="Comma-separated brokers.")
    security_protocol: str = Field(default="PLAINTEXT", description="PLAINTEXT, SSL, SASL_SSL, …")
    sasl_mechanism: str | None = Field(default=None, description="PLAIN, SCRAM-SHA-512, …")
    sasl_username: str | None = Field(default=None, description="SASL user name.")
    sasl_password: SecretStr | None = Field(default=None, description="SASL password.")
    client_id: str = Field(default="callpipe", description="Client id prefix shown in broker logs.")
    topic_partitions: int = Field(default=6, description="Partitions for topics callpipe creates.")
    topic_replication: int = Field(default=1, description="Replication factor for topics callpipe creates.")
    topic_retention_hours: int | None = Field(
        default=None,
        ge=1,
        description="retention.ms of the topics callpipe creates (and of existing ones it ensures); "
        "None = the broker's default (log.retention.hours, 168 unless changed).",
    )

    @field_validator("topic_retention_hours", mode="before")
    @classmethod
    def _empty_is_default(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    _no_placeholder = field_validator("sasl_password")(refuse_placeholder)

    def common_config(self) -> dict[str, Any]:
        """librdkafka properties shared by producers, consumers and admin clients."""
        config: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap_servers,
            "security.protocol": self.security_protocol,
            "client.id": self.client_id,
        }
        if self.sasl_mechanism:
            config["sasl.mechanism"] = self.sasl_mechanism
        if self.sasl_username:
            config["sasl.username"] = self.sasl_username
        if self.sasl_password:
            config["sasl.password"] = self.sasl_password.get_secret_value()
        return config


class SchemaRegistrySettings(BaseSettings):
    """Schema registry (``SCHEMA_REGISTRY_*``); no URL means the local registry built from schemas/."""

    model_config = SettingsConfigDict(env_prefix="SCHEMA_REGISTRY_", extra="ignore")

    url: str | None = Field(default=None, description="Confluent-compatible registry URL.")
    auto_register: bool = Field(default=True, description="Register the current schemas on first use.")
    basic_auth_user_info: SecretStr | None = Field(default=None, description="'user:password'.")

    _no_placeholder = field_validator("basic_auth_user_info")(refuse_placeholder)


class TopicSettings(BaseSettings):
    """Topic names (``TOPIC_*``)."""

    model_config = SettingsConfigDict(env_prefix="TOPIC_", extra="ignore")

    recordings: str = Field(default="callpipe.recordings", description="RecordingReady events (ingest →).")
    transcripts: str = Field(default="callpipe.transcripts", description="TranscriptReady (transcriber →).")
    analyses: str = Field(default="callpipe.analyses", description="CallAnalyzed events (analyzer → sink).")
    call_events: str = Field(
        default="callpipe.call-events", description="Facts that are not recordings (consent declined)."
    )
    alerts: str = Field(
        default="callpipe.alerts", description="AlertRaised events (alerts job → sink, webhook)."
    )
    dead_letter_prefix: str = Field(default="callpipe.dlq", description="Dead-letter topics: PREFIX.<stage>.")

    def dead_letter(self, stage: str) -> str:
        """The dead-letter topic of a stage: one per stage, keeping the original bytes."""
        return f"{self.dead_letter_prefix}.{stage}"


class RunnerSettings(BaseSettings):
    """Stage runner behaviour (``RUNNER_*``)."""

    model_config = SettingsConfigDict(env_prefix="RUNNER_", extra="ignore")

    max_in_flight: int = Field(default=8, ge=1, description="Messages processed concurrently per instance.")
    max_attempts: int = Field(default=5, ge=1, description="Attempts for transient errors before DLQ.")
    backoff_initial_s: float = Field(default=0.5, gt=0, description="First retry delay (full jitter).")
    backoff_max_s: float = Field(default=30.0, gt=0, description="Longest retry delay.")
    batch_size: int = Field(default=5000, ge=1, description="Batch mode: most messages per batch.")
    batch_max_wait_ms: int = Field(default=1000, ge=1, description="Batch mode: longest wait to fill one.")
    drain_timeout_s: float = Field(default=30.0, description="On revoke/shutdown, wait this long for work.")
    commit_interval_s: float = Field(default=1.0, description="How often finished offsets are committed.")
    group_prefix: str = Field(default="callpipe", description="Consumer groups are '<prefix>-<stage>'.")
    instance_id: str | None = Field(
        default=None,
        description=(
            "Static group membership (group.instance.id), e.g. the pod name: a restarted instance "
            "takes its partitions back at once instead of after the session timeout."
        ),
    )
    session_timeout_ms: int = Field(
        default=45_000, ge=1_000, description="How long a silent consumer keeps its partitions."
    )
    metrics_port: int | None = Field(default=None, description="Port of /metrics and /healthz; None = off.")
    metrics_host: str = Field(default="127.0.0.1", description="Bind address of /metrics and /healthz.")


class RecordingStoreSettings(BaseSettings):
    """Where raw audio is archived (``RECORDING_STORE_*``): a local directory or S3-compatible bucket."""

    model_config = SettingsConfigDict(env_prefix="RECORDING_STORE_", extra="ignore")

    url: str = Field(default="file://var/recordings", description="file://DIR or s3://bucket/prefix.")
    s3_endpoint_url: str | None = Field(default=None, description="MinIO/Ceph/R2 endpoint; None = AWS.")
    s3_region: str | None = Field(default=None, description="S3 region.")
    s3_access_key_id: SecretStr | None = Field(default=None, description="S3 access key id.")
    s3_secret_access_key: SecretStr | None = Field(default=None, description="S3 secret access key.")

    _no_placeholder = field_validator("s3_access_key_id", "s3_secret_access_key")(refuse_placeholder)


def _days_or_forever(value: object) -> object:
    """Validator: an empty value means 0 (keep forever), as documented."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return 0
    return value


class RetentionSettings(BaseSettings):
    """How long call data is kept (``RETENTION_*``), in days from the call; 0 = keep forever.

    Read by the sink (ClickHouse TTLs at start, the periodic recording-store sweep) and by
    ``callpipe retention``. The default keeps everything, as before this setting existed.
    """

    model_config = SettingsConfigDict(env_prefix="RETENTION_", extra="ignore")

    audio_days: int = Field(
        default=0,
        ge=0,
        description="Archived recordings (the PCI-redacted copy when audio redaction is on) and "
        "ingest's markers, by the object's age in the recording store; 0 = forever.",
    )
    original_audio_days: int = Field(
        default=0,
        ge=0,
        description="Unredacted originals kept beside the redacted copy "
        "(ANALYZER_REDACT_AUDIO_KEEP_ORIGINAL); never longer than RETENTION_AUDIO_DAYS; 0 = no own limit.",
    )
    transcript_days: int = Field(
        default=0,
        ge=0,
        description="Redacted transcripts (utterances, the search index), by call start; 0 = forever.",
    )
    analysis_days: int = Field(
        default=0,
        ge=0,
        description="Analyses (calls rows, by call start) and per-call status (call_events, by event "
        "time); 0 = forever. Hourly rollups are anonymous and kept.",
    )
    sweep_interval_s: int = Field(
        default=3600,
        ge=0,
        description="How often the sink deletes expired audio from the recording store; 0 = never "
        "(then `callpipe retention sweep` or an S3 lifecycle rule does it).",
    )
    s3_lifecycle: bool = Field(
        default=False,
        description="At sink start, put a lifecycle rule expiring RETENTION_AUDIO_DAYS-old objects under "
        "the store's prefix on the S3 bucket (other rules of the bucket are kept).",
    )

    _empty_is_forever = field_validator(
        "audio_days", "original_audio_days", "transcript_days", "analysis_days", mode="before"
    )(_days_or_forever)

    @property
    def effective_original_audio_days(self) -> int:
        """The originals' retention: their own, bounded by the audio's (0 = forever)."""
        limits = [d for d in (self.audio_days, self.original_audio_days) if d > 0]
        return min(limits) if limits else 0
