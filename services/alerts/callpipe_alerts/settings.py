"""Settings of the alerts job (``ALERTS_*``); only ``__main__`` builds them from the environment."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from callpipe.settings import refuse_placeholder

__all__ = ["AlertsSettings"]


class AlertsSettings(BaseSettings):
    """The alerts job: rules file, topics, webhook (``ALERTS_*``)."""

    model_config = SettingsConfigDict(env_prefix="ALERTS_", extra="ignore")

    config_path: str | None = Field(
        default=None, description="alerts.yaml with windows and rules; None = bundled."
    )
    app_id: str = Field(
        default="callpipe-alerts",
        description="faust app id: consumer group and prefix of its changelog and repartition topics.",
    )
    data_dir: str = Field(
        default="var/alerts", description="faust data directory (state is rebuilt from changelog)."
    )
    web_host: str = Field(
        default="127.0.0.1",
        description="Address faust's web server binds; 0.0.0.0 in a pod lets a Kubernetes probe reach it.",
    )
    web_port: int = Field(default=6066, description="faust web port (/healthz-like status pages).")
    webhook_url: str | None = Field(
        default=None, description="Slack-compatible incoming webhook; None = off."
    )
    webhook_secret: SecretStr | None = Field(
        default=None, description="HMAC-SHA256 key signing the webhook body (X-Callpipe-Signature)."
    )
    webhook_max_attempts: int = Field(default=6, ge=1, description="Webhook attempts before giving up.")
    webhook_backoff_s: float = Field(default=1.0, gt=0, description="First webhook retry delay (doubles).")
    webhook_timeout_s: float = Field(default=10.0, gt=0, description="Timeout of one webhook request.")

    _no_placeholder = field_validator("webhook_secret")(refuse_placeholder)
