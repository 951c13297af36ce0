"""Recording store: raw call audio in a local directory (default) or an S3-compatible bucket.

``open_recording_store(settings)`` picks the implementation from the URL scheme. Every stage
addresses audio by the URI that ``put`` returned (``file:///…`` or ``s3://…``).
"""

from __future__ import annotations

from callpipe.errors import InvalidInputError
from callpipe.settings import RecordingStoreSettings
from callpipe.store._base import RecordingNotFoundError, RecordingStore, validate_key
from callpipe.store._local import LocalRecordingStore, parse_file_url
from callpipe.store._redacted import REDACTED_SUFFIX, original_uri_of, redacted_key_of
from callpipe.store._sweep import (
    AudioRetention,
    ExpiredObject,
    StoredObject,
    SweepableStore,
    SweepReport,
    expired_in_directory,
    sweep_store,
)

__all__ = [
    "REDACTED_SUFFIX",
    "AudioRetention",
    "ExpiredObject",
    "LocalRecordingStore",
    "RecordingNotFoundError",
    "RecordingStore",
    "StoredObject",
    "SweepReport",
    "SweepableStore",
    "expired_in_directory",
    "open_recording_store",
    "original_uri_of",
    "parse_file_url",
    "redacted_key_of",
    "sweep_store",
    "validate_key",
]


def open_recording_store(settings: RecordingStoreSettings) -> SweepableStore:
    """The store the settings describe. S3 support needs the ``s3`` extra (boto3)."""
    url = settings.url
    if url.startswith("file://"):
        return LocalRecordingStore(parse_file_url(url))
    if url.startswith("s3://"):
        try:
            from callpipe.store._s3 import S3RecordingStore  # boto3 only when S3 is configured
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise InvalidInputError(
                "RECORDING_STORE_URL is s3:// but boto3 is not installed: pip install 'callpipe[s3]'"
            ) from exc
        return S3RecordingStore(settings)
    raise InvalidInputError(f"RECORDING_STORE_URL must start with file:// or s3://, got {url!r}")
