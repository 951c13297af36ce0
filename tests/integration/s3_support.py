"""A fresh bucket and store settings on the moto S3 server of the ``s3_endpoint`` fixture."""

from __future__ import annotations

import uuid
from typing import Any

import boto3
from pydantic import SecretStr

from callpipe.settings import RecordingStoreSettings

__all__ = ["moto_bucket", "moto_store_settings"]

_REGION = "us-east-1"
_KEY = "testing"  # moto accepts any credentials


def moto_bucket(endpoint: str) -> tuple[str, Any]:
    """A new, empty bucket and the boto3 client that made it."""
    name = f"rec-{uuid.uuid4().hex[:12]}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=_REGION,
        aws_access_key_id=_KEY,
        aws_secret_access_key=_KEY,
    )
    client.create_bucket(Bucket=name)
    return name, client


def moto_store_settings(endpoint: str, bucket: str, prefix: str = "calls") -> RecordingStoreSettings:
    return RecordingStoreSettings(
        url=f"s3://{bucket}/{prefix}",
        s3_endpoint_url=endpoint,
        s3_region=_REGION,
        s3_access_key_id=SecretStr(_KEY),
        s3_secret_access_key=SecretStr(_KEY),
    )
