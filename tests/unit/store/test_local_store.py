"""Local recording store: atomic writes, URIs, key safety, and no reads outside the root."""

from __future__ import annotations

from pathlib import Path

import pytest

from callpipe.errors import InvalidInputError
from callpipe.settings import RecordingStoreSettings
from callpipe.store import (
    LocalRecordingStore,
    RecordingNotFoundError,
    open_recording_store,
    parse_file_url,
    validate_key,
)


@pytest.fixture
def store(tmp_path: Path) -> LocalRecordingStore:
    return LocalRecordingStore(tmp_path / "rec")


async def test_put_get_round_trip_returns_absolute_file_uri(store: LocalRecordingStore) -> None:
    data = bytes(range(256)) * 100
    uri = await store.put("upload/ab/abcdef.wav", data, content_type="audio/wav")
    assert uri == store.uri_for("upload/ab/abcdef.wav")
    assert uri.startswith("file:///")
    assert Path(uri.removeprefix("file://")).read_bytes() == data  # noqa: ASYNC240
    assert await store.get(uri) == data
    assert await store.exists("upload/ab/abcdef.wav")
    assert not await store.exists("upload/ab/other.wav")


async def test_put_replaces_atomically_and_leaves_no_temp_files(store: LocalRecordingStore) -> None:
    await store.put("a/x.wav", b"first")
    uri = await store.put("a/x.wav", b"second")
    assert await store.get(uri) == b"second"
    assert sorted(p.name for p in (store.root / "a").iterdir()) == ["x.wav"]


async def test_put_file_copies_bytes(store: LocalRecordingStore, tmp_path: Path) -> None:
    src = tmp_path / "in.flac"
    src.write_bytes(b"fLaC" + b"\x00" * (3 << 20))
    uri = await store.put_file("imports/in.flac", src)
    assert await store.get(uri) == src.read_bytes()
    with pytest.raises(InvalidInputError):
        await store.put_file("imports/missing.flac", tmp_path / "missing.flac")


async def test_local_path_is_the_stored_file(store: LocalRecordingStore) -> None:
    uri = await store.put("p/q.wav", b"RIFF")
    async with store.local_path(uri) as path:
        assert path.read_bytes() == b"RIFF"


async def test_missing_object_is_recording_not_found(store: LocalRecordingStore) -> None:
    uri = store.uri_for("nope/none.wav")
    with pytest.raises(RecordingNotFoundError):
        await store.get(uri)
    with pytest.raises(RecordingNotFoundError):
        async with store.local_path(uri):
            pass


async def test_delete_is_idempotent(store: LocalRecordingStore) -> None:
    uri = await store.put("d/e.wav", b"x")
    await store.delete(uri)
    assert not await store.exists("d/e.wav")
    await store.delete(uri)  # already gone: retention re-runs must not fail


@pytest.mark.parametrize(
    "uri",
    [
        "file:///etc/passwd",
        "s3://bucket/key",
        "https://example.com/x.wav",
        "file://evil.example/etc/passwd",
    ],
)
async def test_uris_outside_the_store_are_refused(store: LocalRecordingStore, uri: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        await store.get(uri)
    assert not isinstance(info.value, RecordingNotFoundError)


async def test_traversal_through_uri_is_refused(store: LocalRecordingStore) -> None:
    await store.put("ok/file.wav", b"x")
    sneaky = store.uri_for("ok/file.wav").replace("/ok/file.wav", "/ok/../../outside.wav")
    with pytest.raises(InvalidInputError):
        await store.get(sneaky)


@pytest.mark.parametrize(
    "key", ["", "../x", "a/../b", "/abs", "a//b", "a/./b", ".hidden", "a\\b", "a b", "x\x00y", "é", "a\n"]
)
def test_unsafe_keys_are_rejected(key: str) -> None:
    with pytest.raises(InvalidInputError):
        validate_key(key)


@pytest.mark.parametrize("key", ["a", "upload/ab/0123.wav", "twilio/CA1/RE2.wav", "_ledger/x=y+z@w-1.json"])
def test_safe_keys_are_accepted(key: str) -> None:
    assert validate_key(key) == key


def test_relative_default_url_resolves_against_working_directory(tmp_path: Path) -> None:
    assert parse_file_url("file://var/recordings", base=tmp_path) == (tmp_path / "var/recordings").resolve()
    assert parse_file_url(f"file://{tmp_path}/abs") == (tmp_path / "abs").resolve()


def test_open_recording_store_picks_by_scheme(tmp_path: Path) -> None:
    store = open_recording_store(RecordingStoreSettings(url=f"file://{tmp_path}/r"))
    assert isinstance(store, LocalRecordingStore)
    with pytest.raises(InvalidInputError):
        open_recording_store(RecordingStoreSettings(url="ftp://host/x"))
