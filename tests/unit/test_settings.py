"""Shared settings: the committed .env placeholders are refused, real values accepted."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from callpipe.settings import PLACEHOLDER_SECRET, KafkaSettings, RecordingStoreSettings, TopicSettings

REPO = Path(__file__).resolve().parents[2]


def test_committed_env_file_only_holds_placeholders() -> None:
    values = dict(
        line.split("=", 1)
        for line in (REPO / ".env").read_text().splitlines()
        if line and not line.startswith("#")
    )
    secrets = {k: v for k, v in values.items() if k != "MINIO_ROOT_USER"}
    assert secrets
    assert set(secrets.values()) == {PLACEHOLDER_SECRET}


def test_placeholder_secret_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECORDING_STORE_S3_SECRET_ACCESS_KEY", PLACEHOLDER_SECRET)
    with pytest.raises(ValidationError, match="placeholder"):
        RecordingStoreSettings()
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", f" {PLACEHOLDER_SECRET} ")
    with pytest.raises(ValidationError, match="placeholder"):
        KafkaSettings()


def test_real_secret_is_kept_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECORDING_STORE_S3_SECRET_ACCESS_KEY", "s3cr3t-value-123")
    settings = RecordingStoreSettings()
    assert settings.s3_secret_access_key is not None
    assert settings.s3_secret_access_key.get_secret_value() == "s3cr3t-value-123"
    assert "s3cr3t" not in repr(settings)


def test_kafka_config_carries_sasl_and_topics_name_dead_letters(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "svc")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "pw-123456")
    config = KafkaSettings().common_config()
    assert config["sasl.mechanism"] == "SCRAM-SHA-512"
    assert config["sasl.password"] == "pw-123456"
    assert TopicSettings().dead_letter("sink") == "callpipe.dlq.sink"
