"""Settings of the sink service; only ``__main__`` builds them from the environment."""

from __future__ import annotations

import re

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from callpipe.auth import OidcSettings, check_static_token
from callpipe.settings import RunnerSettings

# Checkpoint files of reprocess jobs: the admin API's (INSIGHTS_REPROCESS_CHECKPOINT_DIR) and the CLI's.
DEFAULT_REPROCESS_CHECKPOINT_DIR = "var/reprocess"

__all__ = ["DEFAULT_REPROCESS_CHECKPOINT_DIR", "InsightsSettings", "SinkRunnerSettings", "WarehouseSettings"]

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


class WarehouseSettings(BaseSettings):
    """ClickHouse (``CLICKHOUSE_*``): a server when ``url`` is set, else embedded chdb in ``path``."""

    model_config = SettingsConfigDict(env_prefix="CLICKHOUSE_", extra="ignore")

    url: str | None = Field(default=None, description="http(s)://host:8123 of a ClickHouse server.")
    username: str = Field(default="default")
    password: SecretStr | None = None
    database: str = Field(default="callpipe", description="Database holding calls, utterances, rollups.")
    chdb_path: str = Field(default="var/chdb", description="Embedded mode: chdb data directory.")
    connect_timeout_s: float = Field(default=10.0, gt=0)
    query_timeout_s: float = Field(default=30.0, gt=0)
    cluster: str | None = Field(
        default=None,
        description="Cluster (remote_servers) to shard and replicate on: migrations run ON CLUSTER, "
        "Distributed tables by call_id (docs/clickhouse-cluster.md); None = one node, ClickHouse Cloud.",
    )

    @field_validator("database", "cluster")
    @classmethod
    def _identifier(cls, value: str | None) -> str | None:
        # Database and cluster names are spliced into DDL (identifiers cannot be bound as
        # parameters in every position, e.g. Distributed's engine arguments).
        if value is not None and not _IDENTIFIER.match(value):
            raise ValueError(f"{value!r} is not a plain identifier ([A-Za-z_][A-Za-z0-9_]*)")
        return value

    @model_validator(mode="after")
    def _cluster_needs_server(self) -> WarehouseSettings:
        if self.cluster is not None and self.url is None:
            raise ValueError("CLICKHOUSE_CLUSTER needs CLICKHOUSE_URL: the embedded engine is one node")
        return self

    @property
    def embedded(self) -> bool:
        return self.url is None


class InsightsSettings(BaseSettings):
    """The insights API and dashboard page (``INSIGHTS_*``)."""

    model_config = SettingsConfigDict(env_prefix="INSIGHTS_", extra="ignore")

    enabled: bool = Field(default=True, description="Serve the API from the sink process (embedded mode).")
    host: str = Field(default="127.0.0.1")
    port: int = Field(default=8081, ge=1, le=65535)
    token: SecretStr | None = Field(
        default=None,
        description="Bearer token of the read scope: every data endpoint; it cannot upload or erase.",
    )
    admin_token: SecretStr | None = Field(
        default=None,
        description="Bearer token of the admin scope (erasure, reprocess), never accepted for reading; "
        "without it (and without AUTH_JWKS_URL) admin endpoints answer 503.",
    )
    reprocess_checkpoint_dir: str = Field(
        default=DEFAULT_REPROCESS_CHECKPOINT_DIR,
        description="Where POST /admin/reprocess keeps each job's checkpoint (resume after a restart).",
    )
    max_page_size: int = Field(default=500, ge=1)
    max_export_rows: int = Field(
        default=10_000, ge=1, le=1_000_000, description="Most calls one CSV export (/calls.csv) returns."
    )
    docs_enabled: bool = Field(default=False, description="Serve /docs and /openapi.json.")
    allow_no_token: bool = Field(
        default=False, description="Only for local demos: serve without a token (refused unless set)."
    )

    oidc: OidcSettings = Field(default_factory=OidcSettings)

    @model_validator(mode="after")
    def _token_required(self) -> InsightsSettings:
        no_reader = self.token is None and not self.oidc.enabled
        if self.enabled and no_reader and not self.allow_no_token:
            raise ValueError(
                "INSIGHTS_TOKEN is required (or AUTH_JWKS_URL for JWTs, "
                "or INSIGHTS_ALLOW_NO_TOKEN=true for a local demo)"
            )
        check_static_token("INSIGHTS_TOKEN", self.token)
        check_static_token("INSIGHTS_ADMIN_TOKEN", self.admin_token)
        if (
            self.admin_token is not None
            and self.token is not None
            and self.admin_token.get_secret_value() == self.token.get_secret_value()
        ):
            raise ValueError("INSIGHTS_ADMIN_TOKEN must differ from INSIGHTS_TOKEN")
        return self


class SinkRunnerSettings(RunnerSettings):
    """The runner settings (``RUNNER_*``) with the sink's own batch default.

    One ``INSERT … FORMAT Avro`` per batch has a fixed cost (the views, the version lookups, a
    new part per table); measured through the runner on 2 cores, 5,000-message batches spent
    ~75 µs of CPU per analysis and 20,000-message batches ~45 µs (chdb writer alone 19–28k/s vs
    ~31–41k/s). 20,000 analyses of ~1 KB are ~20 MB per batch; at the target rate a batch
    fills in about a second, which ``batch_max_wait_ms`` bounds anyway at low traffic.
    """

    batch_size: int = Field(default=20_000, ge=1, description="Batch mode: most messages per batch.")
