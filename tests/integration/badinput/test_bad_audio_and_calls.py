"""Probes from issue 16: garbage audio, a different recording under a taken call id, 500s.

Each probe was written first and seen answered 201/500 before the fix (see docs/security.md).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.integration.badinput.audio_files import (
    id3_then_random,
    tone_mp3,
    wav_claiming_2gb,
    wav_header,
    wav_without_data,
)
from tests.unit.ingest.ingest_support import API_TOKEN, MemorySender, wav_bytes

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


async def upload(client: httpx.AsyncClient, audio: bytes, meta: dict[str, Any] | None = None, **form: str):
    return await client.post(
        "/recordings",
        files={"file": ("call.bin", audio, "application/octet-stream")},
        data={"metadata": json.dumps(meta or {}), **form},
        headers=AUTH,
    )


def _truncated_mp3() -> bytes:
    data = tone_mp3(seconds=6.0)
    return data[: len(data) // 3]


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (wav_claiming_2gb, "truncated"),
        (wav_without_data, ""),
        (lambda: tone_mp3()[:300], ""),
        (id3_then_random, ""),
        (_truncated_mp3, "truncated"),
        (lambda: wav_header(16_000, channels=1, rate=4000) + bytes(16_000), "sample rate"),
    ],
    ids=["wav-2gb-header", "wav-no-data", "mp3-300-bytes", "id3-random", "mp3-first-third", "wav-4khz"],
)
async def test_unusable_audio_is_refused_before_any_2xx(
    client: httpx.AsyncClient, sender: MemorySender, make: Callable[[], bytes], reason: str
) -> None:
    answer = await upload(client, make())
    assert answer.status_code in (415, 422), answer.text
    assert reason in answer.json()["detail"]
    assert sender.records == []


async def test_whole_mp3_is_accepted_with_its_decoded_duration(
    client: httpx.AsyncClient, sender: MemorySender
) -> None:
    answer = await upload(client, tone_mp3(seconds=6.0))
    assert answer.status_code == 201, answer.text
    assert len(sender.records) == 1


async def test_different_recording_under_taken_call_id_is_409_unless_replace(
    client: httpx.AsyncClient, sender: MemorySender
) -> None:
    meta = {"call_id": "crm-1"}
    first = await upload(client, wav_bytes(seed=1), meta)
    assert first.status_code == 201, first.text
    same = await upload(client, wav_bytes(seed=1), meta)
    assert same.status_code == 200  # same bytes: idempotent
    other = await upload(client, wav_bytes(seed=2), meta)
    assert other.status_code == 409, other.text
    assert "replace=true" in other.json()["detail"]
    assert len(sender.records) == 1
    replaced = await upload(client, wav_bytes(seed=2), meta, replace="true")
    assert replaced.status_code == 201, replaced.text
    assert len(sender.records) == 2
    bad_flag = await upload(client, wav_bytes(seed=3), meta, replace="maybe")
    assert bad_flag.status_code == 400


async def test_file_sent_as_text_field_is_400_not_500(client: httpx.AsyncClient) -> None:
    answer = await client.post("/recordings", data={"file": "notafile"}, headers=AUTH)
    assert answer.status_code == 400
    assert "file part" in answer.json()["detail"]


@pytest.mark.parametrize(
    "meta",
    [
        {"started_at": "9999-01-01T00:00:00Z"},
        {"started_at": "0001-01-02T00:00:00Z"},
        {"agent_id": "bob\x07"},
        {"agent_id": "<script>alert(1)</script>"},
        {"queue": "billing\nsupport"},
        {"attributes": {"k": "x" * 1_000_000}},
        {"attributes": {f"k{i}": "v" for i in range(51)}},
        {"attributes": {"bad key<>": "v"}},
        {"from_number": "+1555<b>"},
    ],
    ids=[
        "year-9999",
        "year-1",
        "ctrl-char",
        "html",
        "newline",
        "1mb-attribute",
        "51-attributes",
        "bad-key",
        "html-number",
    ],
)
async def test_implausible_metadata_is_422(
    client: httpx.AsyncClient, sender: MemorySender, meta: dict[str, Any]
) -> None:
    answer = await upload(client, wav_bytes(), meta)
    assert answer.status_code == 422, answer.text
    assert sender.records == []


async def test_plausible_metadata_is_accepted(client: httpx.AsyncClient) -> None:
    meta = {
        "agent_id": "agent-7 ü",
        "queue": "billing/eu",
        "started_at": "2026-01-02T03:04:05Z",
        "from_number": "client:alice",
        "attributes": {"crm.id": "x" * 1000},
    }
    answer = await upload(client, wav_bytes(), meta)
    assert answer.status_code == 201, answer.text
