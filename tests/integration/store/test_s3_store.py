"""S3 recording store against moto's S3 server on 127.0.0.1 (real HTTP, real botocore)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from callpipe.errors import DependencyUnavailableError, InvalidInputError
from callpipe.store import RecordingNotFoundError, open_recording_store
from callpipe.store._s3 import S3RecordingStore
from callpipe_tools.local._process import free_port
from tests.integration.s3_support import moto_bucket, moto_store_settings

pytestmark = pytest.mark.integration


@pytest.fixture
def bucket(s3_endpoint: str) -> str:
    name, _ = moto_bucket(s3_endpoint)
    return name


@pytest.fixture
async def store(s3_endpoint: str, bucket: str) -> AsyncIterator[S3RecordingStore]:
    s = S3RecordingStore(moto_store_settings(s3_endpoint, bucket))
    yield s
    await s.aclose()


async def test_put_get_round_trip(store: S3RecordingStore, bucket: str) -> None:
    data = bytes(range(256)) * 1000
    uri = await store.put("upload/ab/x.wav", data, content_type="audio/wav")
    assert uri == f"s3://{bucket}/calls/upload/ab/x.wav" == store.uri_for("upload/ab/x.wav")
    assert await store.get(uri) == data
    assert await store.exists("upload/ab/x.wav")
    assert not await store.exists("upload/ab/y.wav")


async def test_put_file_multipart_sized_and_local_path(store: S3RecordingStore, tmp_path: Path) -> None:
    src = tmp_path / "big.wav"
    src.write_bytes(bytes(range(251)) * (40 * 1024 * 4))  # ~41 MB: above boto3's multipart threshold
    uri = await store.put_file("imports/big.wav", src, content_type="audio/wav")
    async with store.local_path(uri) as path:
        assert path.suffix == ".wav"
        assert path.read_bytes() == src.read_bytes()
        downloaded = path
    assert not downloaded.exists()  # the temp copy is cleaned up


async def test_missing_and_foreign_objects(store: S3RecordingStore) -> None:
    with pytest.raises(RecordingNotFoundError):
        await store.get(store.uri_for("none/missing.wav"))
    with pytest.raises(RecordingNotFoundError):
        async with store.local_path(store.uri_for("none/missing.wav")):
            pass
    with pytest.raises(InvalidInputError):
        await store.get("s3://another-bucket/calls/x.wav")
    with pytest.raises(InvalidInputError):
        await store.get(f"s3://{store.bucket}/outside-prefix/x.wav")


async def test_delete_is_idempotent(store: S3RecordingStore) -> None:
    uri = await store.put("d/e.wav", b"x")
    await store.delete(uri)
    assert not await store.exists("d/e.wav")
    await store.delete(uri)


def test_open_recording_store_builds_s3_store(s3_endpoint: str) -> None:
    assert isinstance(open_recording_store(moto_store_settings(s3_endpoint, "b")), S3RecordingStore)


async def test_missing_bucket_is_dependency_unavailable(s3_endpoint: str) -> None:
    store = open_recording_store(moto_store_settings(s3_endpoint, "no-such-bucket-here"))
    with pytest.raises(DependencyUnavailableError):
        await store.put("a/b.wav", b"x")
    await store.aclose()


async def test_unreachable_endpoint_is_dependency_unavailable() -> None:
    store = open_recording_store(moto_store_settings(f"http://127.0.0.1:{free_port()}", "b"))
    with pytest.raises(DependencyUnavailableError):
        await store.put("a/b.wav", b"x")
    await store.aclose()
