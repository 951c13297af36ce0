"""Retention on S3 against moto's S3 server on 127.0.0.1 (real HTTP, real botocore): the sweep
walks the bucket and deletes what expired; the lifecycle rule lands beside the bucket's own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from callpipe.store import AudioRetention, redacted_key_of, sweep_store
from callpipe.store._s3 import S3RecordingStore, lifecycle_rule
from tests.integration.s3_support import moto_bucket, moto_store_settings

pytestmark = pytest.mark.integration


@pytest.fixture
def bucket(s3_endpoint: str) -> tuple[str, Any]:
    return moto_bucket(s3_endpoint)


def _store(endpoint: str, bucket: str) -> S3RecordingStore:
    return S3RecordingStore(moto_store_settings(endpoint, bucket))


async def test_sweep_deletes_expired_originals_and_keeps_the_rest(
    s3_endpoint: str, bucket: tuple[str, Any]
) -> None:
    name, client = bucket
    store = _store(s3_endpoint, name)
    original = "audio/ab/abc.wav"
    for key in (original, redacted_key_of(original), "audio/cd/plain.wav", "_ledger/content/abc.json"):
        await store.put(key, key.encode())
    client.put_object(Bucket=name, Key="elsewhere/not-ours.wav", Body=b"x")
    # moto stamps objects with the real time: sweep "10 days from now" instead of ageing them.
    later = datetime.now(UTC) + timedelta(days=10)
    report = await sweep_store(store, AudioRetention(audio_days=30, original_days=7), later)
    assert [(e.key, e.kind) for e in report.expired] == [(original, "original")]
    assert report.scanned == 4  # only the store's prefix is walked
    assert not await store.exists(original)
    assert await store.exists(redacted_key_of(original)) and await store.exists("audio/cd/plain.wav")
    much_later = datetime.now(UTC) + timedelta(days=31)
    report = await sweep_store(store, AudioRetention(audio_days=30, original_days=7), much_later)
    assert report.deleted == 3
    left = client.list_objects_v2(Bucket=name)["Contents"]
    assert [o["Key"] for o in left] == ["elsewhere/not-ours.wav"]
    await store.aclose()


async def test_lifecycle_rule_is_put_beside_the_buckets_own_rules(
    s3_endpoint: str, bucket: tuple[str, Any]
) -> None:
    name, client = bucket
    foreign = {"ID": "logs", "Filter": {"Prefix": "logs/"}, "Status": "Enabled", "Expiration": {"Days": 3}}
    client.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": [foreign]})
    store = _store(s3_endpoint, name)
    await store.apply_lifecycle(90)
    rules = client.get_bucket_lifecycle_configuration(Bucket=name)["Rules"]
    by_id = {r["ID"]: r for r in rules}
    assert set(by_id) == {"logs", lifecycle_rule("calls", 90)["ID"]}
    ours = by_id[lifecycle_rule("calls", 90)["ID"]]
    assert ours["Expiration"] == {"Days": 90} and ours["Filter"] == {"Prefix": "calls/"}
    await store.apply_lifecycle(0)
    rules = client.get_bucket_lifecycle_configuration(Bucket=name)["Rules"]
    assert [r["ID"] for r in rules] == ["logs"]
    await store.aclose()
