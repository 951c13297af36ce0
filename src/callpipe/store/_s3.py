"""Recording store on an S3-compatible bucket (AWS S3, MinIO, Ceph, R2) through boto3.

boto3 is blocking; each call runs in a worker thread (``asyncio.to_thread``). One client is
shared: boto3 clients are thread-safe, sessions are not, so the session is used only here.
botocore errors are translated into callpipe's error classes, which decide what a caller does:
a missing object is permanent, throttling is retried, an unreachable endpoint pauses the stage.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

from callpipe.errors import (
    CallpipeError,
    DependencyUnavailableError,
    InvalidInputError,
    RateLimitedError,
    TransientError,
)
from callpipe.settings import RecordingStoreSettings
from callpipe.store._base import RecordingNotFoundError, validate_key
from callpipe.store._sweep import StoredObject

if TYPE_CHECKING:
    from types_boto3_s3.client import S3Client

__all__ = ["S3RecordingStore", "lifecycle_rule", "lifecycle_rules", "parse_s3_url"]

_NOT_FOUND = frozenset({"NoSuchKey", "404", "NotFound"})
_THROTTLED = frozenset({"SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded", "503"})
# The bucket or credentials are wrong: nothing about the recording is, so pause rather than drop.
_MISCONFIGURED = frozenset(
    {
        "NoSuchBucket",
        "AccessDenied",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "403",
        "AllAccessDisabled",
    }
)


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` → (bucket, prefix without slashes at either end)."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise InvalidInputError(f"not an s3://bucket[/prefix] URL: {url!r}")
    return parts.netloc, parts.path.strip("/")


def translate_boto_error(exc: Exception, what: str) -> CallpipeError:
    """Map a botocore exception to the callpipe class that decides retry / pause / dead-letter."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        # Misconfiguration first: NoSuchBucket is a 404 too, but it is no missing recording.
        message = f"{what}: {code or status}: {error.get('Message', '')}".rstrip(": ")
        if code in _MISCONFIGURED or status == 403:
            return DependencyUnavailableError(message)
        if code in _THROTTLED or status in (429, 503):
            return RateLimitedError(message)
        if code in _NOT_FOUND or status == 404:
            return RecordingNotFoundError(message)
        if isinstance(status, int) and status >= 500:
            return TransientError(message)
        return InvalidInputError(message)
    if isinstance(exc, EndpointConnectionError):
        return DependencyUnavailableError(f"{what}: S3 endpoint unreachable: {exc}")
    return DependencyUnavailableError(f"{what}: {type(exc).__name__}: {exc}")


class S3RecordingStore:
    """Recordings as objects under ``s3://bucket/prefix/``."""

    def __init__(self, settings: RecordingStoreSettings, *, client: S3Client | None = None) -> None:
        self.bucket, self.prefix = parse_s3_url(settings.url)
        self._client: S3Client = client if client is not None else _make_client(settings)

    def __repr__(self) -> str:
        return f"S3RecordingStore(bucket={self.bucket!r}, prefix={self.prefix!r})"

    def _object_key(self, key: str) -> str:
        validate_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def uri_for(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._object_key(key)}"

    def key_of(self, uri: str) -> str:
        key = self._key_of(uri)
        return key[len(self.prefix) + 1 :] if self.prefix else key

    def _key_of(self, uri: str) -> str:
        bucket, key = parse_s3_url(uri)
        if bucket != self.bucket or not key:
            raise InvalidInputError(f"{uri!r} is not an object of this store (s3://{self.bucket})")
        if self.prefix and not key.startswith(self.prefix + "/"):
            raise InvalidInputError(f"{uri!r} is outside the store prefix {self.prefix!r}")
        return key

    async def _call(self, what: str, fn: Any, /, **kwargs: Any) -> Any:
        try:
            return await asyncio.to_thread(fn, **kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise translate_boto_error(exc, what) from exc

    async def put(self, key: str, data: bytes, content_type: str | None = None) -> str:
        object_key = self._object_key(key)
        extra: dict[str, Any] = {"ContentType": content_type} if content_type else {}
        await self._call(
            f"put s3://{self.bucket}/{object_key}",
            self._client.put_object,
            Bucket=self.bucket,
            Key=object_key,
            Body=data,
            **extra,
        )
        return f"s3://{self.bucket}/{object_key}"

    async def put_file(self, key: str, path: Path, content_type: str | None = None) -> str:
        object_key = self._object_key(key)
        if not await asyncio.to_thread(path.is_file):
            raise InvalidInputError(f"cannot store {path}: not a file")
        # upload_file switches to multipart for large files and streams from disk.
        await self._call(
            f"upload s3://{self.bucket}/{object_key}",
            self._client.upload_file,
            Filename=str(path),
            Bucket=self.bucket,
            Key=object_key,
            ExtraArgs={"ContentType": content_type} if content_type else None,
        )
        return f"s3://{self.bucket}/{object_key}"

    async def get(self, uri: str) -> bytes:
        key = self._key_of(uri)

        def read() -> bytes:
            body = self._client.get_object(Bucket=self.bucket, Key=key)["Body"]
            with contextlib.closing(body):
                return body.read()

        data: bytes = await self._call(f"get {uri}", read)
        return data

    @contextlib.asynccontextmanager
    async def local_path(self, uri: str) -> AsyncIterator[Path]:
        key = self._key_of(uri)
        # Keep the extension: decoders (ffmpeg via faster-whisper) use it as a format hint.
        fd, tmp = tempfile.mkstemp(prefix="callpipe-rec-", suffix=PurePosixPath(key).suffix)
        os.close(fd)
        try:
            await self._call(
                f"download {uri}", self._client.download_file, Bucket=self.bucket, Key=key, Filename=tmp
            )
            yield Path(tmp)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)

    async def exists(self, key: str) -> bool:
        object_key = self._object_key(key)
        try:
            await self._call(
                f"head s3://{self.bucket}/{object_key}",
                self._client.head_object,
                Bucket=self.bucket,
                Key=object_key,
            )
        except RecordingNotFoundError:
            return False
        return True

    async def delete(self, uri: str) -> None:
        key = self._key_of(uri)
        # S3 DeleteObject succeeds for a missing key, which is the idempotence we want.
        await self._call(f"delete {uri}", self._client.delete_object, Bucket=self.bucket, Key=key)

    async def walk(self) -> AsyncIterator[list[StoredObject]]:
        """Every object under the prefix, one list per ``/``-delimited level (for the retention
        sweep): an original and its redacted copy always land in the same list."""
        pending = [f"{self.prefix}/" if self.prefix else ""]
        while pending:
            level = pending.pop()
            objects: list[StoredObject] = []
            subprefixes: list[str] = []
            token: str | None = None
            while True:
                page = await self._call(
                    f"list s3://{self.bucket}/{level}",
                    self._client.list_objects_v2,
                    Bucket=self.bucket,
                    Prefix=level,
                    Delimiter="/",
                    **({"ContinuationToken": token} if token else {}),
                )
                subprefixes.extend(p["Prefix"] for p in page.get("CommonPrefixes", []))
                for item in page.get("Contents", []):
                    key = item["Key"][len(self.prefix) + 1 :] if self.prefix else item["Key"]
                    with contextlib.suppress(InvalidInputError):
                        objects.append(StoredObject(validate_key(key), item["LastModified"]))
                if not page.get("IsTruncated"):
                    break
                token = page.get("NextContinuationToken")
            pending.extend(sorted(subprefixes, reverse=True))
            if objects:
                yield objects

    async def apply_lifecycle(self, audio_days: int) -> list[dict[str, Any]]:
        """Put (or, with 0, remove) callpipe's expiration rule for this store's prefix on the
        bucket, keeping every other rule: PutBucketLifecycleConfiguration replaces the whole
        configuration, so the current one is read first. Returns the rules now on the bucket."""
        what = f"lifecycle of s3://{self.bucket}"
        try:
            current = await asyncio.to_thread(
                self._client.get_bucket_lifecycle_configuration, Bucket=self.bucket
            )
            existing: list[dict[str, Any]] = [dict(r) for r in current.get("Rules", [])]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "NoSuchLifecycleConfiguration":
                raise translate_boto_error(exc, f"get {what}") from exc
            existing = []  # a bucket without any rule answers this error
        except BotoCoreError as exc:
            raise translate_boto_error(exc, f"get {what}") from exc
        rules = lifecycle_rules(existing, self.prefix, audio_days)
        if rules == existing:
            return rules
        if rules:
            await self._call(
                f"put {what}",
                self._client.put_bucket_lifecycle_configuration,
                Bucket=self.bucket,
                LifecycleConfiguration={"Rules": rules},
            )
        else:
            await self._call(
                f"delete {what}",
                self._client.delete_bucket_lifecycle,
                Bucket=self.bucket,
            )
        return rules

    async def aclose(self) -> None:
        await asyncio.to_thread(self._client.close)


def lifecycle_rule_id(prefix: str) -> str:
    """callpipe's rule for one store prefix: two deployments sharing a bucket keep their own."""
    return f"callpipe-audio-retention:{prefix}" if prefix else "callpipe-audio-retention"


def lifecycle_rule(prefix: str, audio_days: int) -> dict[str, Any]:
    """The S3 lifecycle rule expiring the store's objects ``audio_days`` after they were written.

    NoncurrentVersionExpiration: on a versioned bucket, expiring only leaves a delete marker and
    the audio would live on as a noncurrent version. Originals kept for a shorter time cannot be
    told apart by a lifecycle filter (prefix and tags only): the sweep removes those.
    """
    return {
        "ID": lifecycle_rule_id(prefix),
        "Filter": {"Prefix": f"{prefix}/" if prefix else ""},
        "Status": "Enabled",
        "Expiration": {"Days": audio_days},
        "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
    }


def lifecycle_rules(existing: list[dict[str, Any]], prefix: str, audio_days: int) -> list[dict[str, Any]]:
    """The bucket's rules with callpipe's rule for ``prefix`` set to ``audio_days`` (0: removed)."""
    rule_id = lifecycle_rule_id(prefix)
    ours = [lifecycle_rule(prefix, audio_days)] if audio_days > 0 else []
    rules: list[dict[str, Any]] = []
    for rule in existing:
        if rule.get("ID") == rule_id:
            rules.extend(ours)  # in place: an unchanged configuration compares equal
            ours = []
        else:
            rules.append(rule)
    return rules + ours


def _make_client(settings: RecordingStoreSettings) -> S3Client:
    session = boto3.session.Session(
        aws_access_key_id=(
            settings.s3_access_key_id.get_secret_value() if settings.s3_access_key_id else None
        ),
        aws_secret_access_key=(
            settings.s3_secret_access_key.get_secret_value() if settings.s3_secret_access_key else None
        ),
        region_name=settings.s3_region,
    )
    config = Config(
        connect_timeout=5,
        read_timeout=60,
        retries={"max_attempts": 3, "mode": "standard"},
        # Path-style addressing works with MinIO/Ceph and any endpoint without wildcard DNS.
        s3={"addressing_style": "path"} if settings.s3_endpoint_url else None,
    )
    return session.client("s3", endpoint_url=settings.s3_endpoint_url, config=config)
