"""Retention sweep of the recording store: which objects expire (originals beside a redacted copy
on their own clock), a sweep of a temp-directory store, and the S3 requests (shape checked by
botocore's Stubber against the S3 API model; nothing is sent)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from callpipe.settings import RecordingStoreSettings
from callpipe.store import (
    AudioRetention,
    LocalRecordingStore,
    StoredObject,
    expired_in_directory,
    redacted_key_of,
    sweep_store,
)
from callpipe.store._s3 import S3RecordingStore, lifecycle_rule, lifecycle_rules

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def _obj(key: str, age_days: float) -> StoredObject:
    return StoredObject(key, NOW - timedelta(days=age_days))


def _expired(objects: list[StoredObject], audio: int, original: int) -> dict[str, str]:
    return {e.key: e.kind for e in expired_in_directory(objects, AudioRetention(audio, original), NOW)}


def test_an_original_beside_its_redacted_copy_expires_on_its_own_clock() -> None:
    original = "audio/ab/abc.wav"
    directory = [_obj(original, 10), _obj(redacted_key_of(original), 10), _obj("audio/ab/lone.wav", 10)]
    assert _expired(directory, audio=30, original=7) == {original: "original"}
    # The same file without a copy beside it is the archived audio itself.
    assert _expired([_obj(original, 10)], audio=30, original=7) == {}
    assert _expired(directory, audio=9, original=7) == {
        original: "original",
        redacted_key_of(original): "audio",
        "audio/ab/lone.wav": "audio",
    }


def test_zero_keeps_forever_and_the_boundary_is_exclusive() -> None:
    directory = [_obj("a.wav", 10_000), _obj("b.wav", 30), _obj("c.wav", 30.001)]
    assert _expired(directory, audio=0, original=0) == {}
    assert _expired(directory, audio=30, original=0) == {"a.wav": "audio", "c.wav": "audio"}


async def test_sweep_of_a_directory_store_deletes_exactly_what_expired(tmp_path: Path) -> None:
    store = LocalRecordingStore(tmp_path / "rec")
    ages = {
        "audio/ab/old.wav": 40,  # original (copy beside it), past 7 days
        "audio/ab/old.wav.pci-redacted.wav": 40,  # archived audio, within 60 days
        "audio/cd/new.wav": 3,  # original, within 7 days
        "audio/cd/new.wav.pci-redacted.wav": 3,
        "audio/ef/plain.mp3": 61,  # no redaction: archived audio past 60 days
        "_ledger/content/feed.json": 61,  # ingest marker: follows the audio
        "_ledger/content/beef.json": 2,
    }
    for key, days in ages.items():
        await store.put(key, key.encode())
        stamp = (datetime.now(UTC) - timedelta(days=days)).timestamp()
        os.utime(store.root / key, (stamp, stamp))
    leftover = store.root / "audio/ab/.tmp-crash"  # a writer's temp file: not an object
    leftover.write_bytes(b"partial")
    os.utime(leftover, (0, 0))
    retention = AudioRetention(audio_days=60, original_days=7)

    dry = await sweep_store(store, retention, datetime.now(UTC), dry_run=True)
    expected = {"audio/ab/old.wav", "audio/ef/plain.mp3", "_ledger/content/feed.json"}
    assert {e.key for e in dry.expired} == expected
    assert dry.counts() == {"audio": 2, "original": 1} and dry.deleted == 0 and dry.scanned == len(ages)
    assert all((store.root / key).exists() for key in ages)  # a dry run deletes nothing

    report = await sweep_store(store, retention, datetime.now(UTC))
    assert report.deleted == 3
    assert {k for k in ages if (store.root / k).exists()} == set(ages) - expected
    assert leftover.exists()
    again = await sweep_store(store, retention, datetime.now(UTC))
    assert again.expired == [] and again.scanned == len(ages) - 3


async def test_sweep_with_nothing_configured_does_not_even_list(tmp_path: Path) -> None:
    store = LocalRecordingStore(tmp_path / "missing")
    report = await sweep_store(store, AudioRetention(), NOW)
    assert report.scanned == 0 and report.expired == []


def test_lifecycle_rules_replace_only_callpipes_rule_of_this_prefix() -> None:
    foreign = {"ID": "logs", "Filter": {"Prefix": "logs/"}, "Status": "Enabled", "Expiration": {"Days": 3}}
    other_prefix = lifecycle_rule("staging", 5)
    ours_old = lifecycle_rule("calls", 30)
    rules = lifecycle_rules([foreign, ours_old, other_prefix], "calls", 90)
    assert rules == [foreign, lifecycle_rule("calls", 90), other_prefix]
    assert rules[1]["Filter"] == {"Prefix": "calls/"} and rules[1]["Expiration"] == {"Days": 90}
    assert lifecycle_rules([foreign, ours_old], "calls", 0) == [foreign]
    assert lifecycle_rules([], "", 14)[0]["Filter"] == {"Prefix": ""}


@pytest.fixture
def stubbed() -> tuple[S3RecordingStore, Stubber]:
    client: Any = boto3.client(
        "s3", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    store = S3RecordingStore(RecordingStoreSettings(url="s3://recordings/calls"), client=client)
    return store, Stubber(client)


async def test_apply_lifecycle_keeps_the_buckets_other_rules(
    stubbed: tuple[S3RecordingStore, Stubber],
) -> None:
    store, stub = stubbed
    foreign = {"ID": "logs", "Filter": {"Prefix": "logs/"}, "Status": "Enabled", "Expiration": {"Days": 3}}
    stub.add_response("get_bucket_lifecycle_configuration", {"Rules": [foreign]}, {"Bucket": "recordings"})
    wanted = {"Rules": [foreign, lifecycle_rule("calls", 90)]}
    stub.add_response(
        "put_bucket_lifecycle_configuration", {}, {"Bucket": "recordings", "LifecycleConfiguration": wanted}
    )
    with stub:
        assert await store.apply_lifecycle(90) == wanted["Rules"]
        stub.assert_no_pending_responses()


async def test_apply_lifecycle_on_a_bucket_without_rules_and_removal(
    stubbed: tuple[S3RecordingStore, Stubber],
) -> None:
    store, stub = stubbed
    stub.add_client_error(
        "get_bucket_lifecycle_configuration", "NoSuchLifecycleConfiguration", http_status_code=404
    )
    stub.add_response(
        "put_bucket_lifecycle_configuration",
        {},
        {"Bucket": "recordings", "LifecycleConfiguration": {"Rules": [lifecycle_rule("calls", 30)]}},
    )
    # Back to 0 with only callpipe's rule on the bucket: the configuration is deleted.
    stub.add_response("get_bucket_lifecycle_configuration", {"Rules": [lifecycle_rule("calls", 30)]})
    stub.add_response("delete_bucket_lifecycle", {}, {"Bucket": "recordings"})
    # Unchanged: nothing is written.
    stub.add_response("get_bucket_lifecycle_configuration", {"Rules": [lifecycle_rule("calls", 30)]})
    with stub:
        await store.apply_lifecycle(30)
        assert await store.apply_lifecycle(0) == []
        await store.apply_lifecycle(30)
        stub.assert_no_pending_responses()


async def test_s3_walk_lists_level_by_level_and_pages(stubbed: tuple[S3RecordingStore, Stubber]) -> None:
    store, stub = stubbed
    at = datetime(2026, 1, 1, tzinfo=UTC)
    stub.add_response(
        "list_objects_v2",
        {"CommonPrefixes": [{"Prefix": "calls/audio/"}], "Contents": [], "IsTruncated": False},
        {"Bucket": "recordings", "Prefix": "calls/", "Delimiter": "/"},
    )
    stub.add_response(
        "list_objects_v2",
        {"Contents": [{"Key": "calls/audio/a.wav", "LastModified": at}], "IsTruncated": True,
         "NextContinuationToken": "t1"},
        {"Bucket": "recordings", "Prefix": "calls/audio/", "Delimiter": "/"},
    )  # fmt: skip
    stub.add_response(
        "list_objects_v2",
        {
            "Contents": [{"Key": "calls/audio/a.wav.pci-redacted.wav", "LastModified": at}],
            "IsTruncated": False,
        },
        {"Bucket": "recordings", "Prefix": "calls/audio/", "Delimiter": "/", "ContinuationToken": "t1"},
    )
    stub.add_response("delete_object", {}, {"Bucket": "recordings", "Key": "calls/audio/a.wav"})
    with stub:
        report = await sweep_store(store, AudioRetention(audio_days=365, original_days=7), NOW)
        stub.assert_no_pending_responses()
    assert [(e.key, e.kind) for e in report.expired] == [("audio/a.wav", "original")]
