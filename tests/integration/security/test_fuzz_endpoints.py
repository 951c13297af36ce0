"""Hypothesis fuzzing of every endpoint of ingest and insights: no answer may be a 5xx.

Bounded example counts (CI-sized); each test prints how many requests it sent and how many
answered 5xx (``pytest -s`` shows them; the figures in docs/security.md come from that).
"""

from __future__ import annotations

import json
import string
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callpipe.avro import LocalSchemaRegistry
from callpipe.store import LocalRecordingStore
from callpipe_ingest.app import create_app
from tests.integration.security.conftest import TOKEN
from tests.integration.security.test_ssrf import MALFORMED_URLS
from tests.unit.ingest.ingest_support import API_TOKEN, BASE, MemorySender, wav_bytes

EXAMPLES = 120
FUZZ = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)
tally: Counter[str] = Counter()

AUDIO_HEADS = [
    b"",
    b"RIFF\x24\x00\x00\x00WAVEfmt ",
    b"ID3\x03\x00\x00\x00\x00\x00\x00",
    b"fLaC",
    b"OggS",
    b"\xff\xfb\x90",
]
NASTY = ["0001-01-02T00:00:00Z", "9999-12-31T23:59:59Z", "-1", "1e309", "NaN", "", "%00", "<script>"]
NASTY += ["2026-11-20T00:00:00", "0", "99999999999999999999", "true", "../../etc/passwd"]
META_KEYS = ["call_id", "agent_id", "queue", "started_at", "channel_roles", "attributes", "from_number"]
META_KEYS += ["direction", "consent", "extra"]
URLS = ["https://files.example.com/a.wav", "http://127.1/", "file:///etc/passwd", *MALFORMED_URLS]
INGEST_PATHS = ["/twilio/voice", "/twilio/consent", "/twilio/recording-status", "/healthz", "/readyz"]
INGEST_PATHS += ["/metrics", "/recordings", "/docs", "/nope"]
TWILIO_FIELDS = [
    "CallSid",
    "RecordingUrl",
    "RecordingSid",
    "Digits",
    "SpeechResult",
    "RecordingStatus",
    "From",
]
odd_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(NASTY),
    st.integers().map(str),
    st.datetimes().map(lambda d: d.isoformat()),
)


def _count(answer: httpx.Response, service: str) -> None:
    tally[f"{service} requests"] += 1
    if answer.status_code >= 500:
        tally[f"{service} 5xx"] += 1
    assert answer.status_code < 500, (answer.request.method, str(answer.request.url), answer.text[:300])


# ---- insights -------------------------------------------------------------------------------
def _insights_routes(api: TestClient) -> list[tuple[str, list[str]]]:
    routes = []
    for route in api.app.routes:  # type: ignore[attr-defined]
        if isinstance(route, APIRoute) and "GET" in route.methods:
            routes.append((route.path, [p.name for p in route.dependant.query_params]))
    return routes


@FUZZ
@given(data=st.data())
def test_insights_endpoints_never_answer_5xx(api: TestClient, data: st.DataObject) -> None:
    path, names = data.draw(st.sampled_from(_insights_routes(api)))
    params = data.draw(st.dictionaries(st.sampled_from(names or ["x"]), odd_text, max_size=4))
    if "{call_id}" in path:
        call_id = data.draw(st.one_of(st.text(min_size=1, max_size=40), odd_text.filter(bool)))
        path = path.replace("{call_id}", quote(call_id, safe=""))
    auth = data.draw(
        st.sampled_from([{"Authorization": f"Bearer {TOKEN}"}, {}, {"Authorization": "Bearer x"}])
    )
    _count(api.get(path, params=params, headers=auth), "insights")


# ---- ingest ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ingest(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    tmp: Path = tmp_path_factory.mktemp("fuzz-ingest")

    def remote(request: httpx.Request) -> httpx.Response:  # no audio_url ever leaves the process
        return httpx.Response(
            200 if request.url.path.endswith(".wav") else 404, content=wav_bytes(seed=len(str(request.url)))
        )

    async def ready() -> str | None:
        return None

    app = create_app(
        make_ingest_settings(),
        MemorySender(),
        LocalRecordingStore(tmp / "rec"),
        registry=LocalSchemaRegistry.from_directory(),
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(remote)),
        readiness=ready,
    )
    with TestClient(app, base_url=BASE) as client:
        yield client


def make_ingest_settings() -> Any:
    from tests.unit.ingest.ingest_support import make_settings

    return make_settings(audio_url_hosts=["files.example.com"])


meta_value = st.one_of(
    odd_text,
    st.lists(st.sampled_from(["caller", "agent", "x"]), max_size=3),
    st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3),
    st.integers(),
    st.none(),
)
metadata = st.one_of(
    odd_text, st.dictionaries(st.sampled_from(META_KEYS), meta_value, max_size=5).map(json.dumps)
)


@FUZZ
@given(
    head=st.sampled_from(AUDIO_HEADS),
    body=st.binary(max_size=2048),
    meta=metadata,
    as_text=st.booleans(),
    url=st.one_of(st.none(), st.sampled_from(URLS), odd_text),
    replace=st.one_of(st.none(), odd_text),
)
def test_upload_never_answers_5xx(
    ingest: TestClient,
    head: bytes,
    body: bytes,
    meta: str,
    as_text: bool,
    url: str | None,
    replace: str | None,
) -> None:
    form: dict[str, str] = {"metadata": meta}
    if url is not None:
        form["audio_url"] = url
    if replace is not None:
        form["replace"] = replace
    auth = {"Authorization": f"Bearer {API_TOKEN}"}
    if as_text:
        form["file"] = (head + body).decode("latin-1")
        answer = ingest.post("/recordings", data=form, headers=auth)
    else:
        answer = ingest.post("/recordings", data=form, files={"file": ("f", head + body)}, headers=auth)
    _count(answer, "ingest")


@FUZZ
@given(
    path=st.sampled_from(INGEST_PATHS),
    form=st.dictionaries(st.sampled_from(TWILIO_FIELDS), odd_text, max_size=5),
    signature=st.one_of(st.none(), st.text(string.printable.strip(), max_size=30)),
    method=st.sampled_from(["GET", "POST"]),
)
def test_other_ingest_endpoints_never_answer_5xx(
    ingest: TestClient, path: str, form: dict[str, str], signature: str | None, method: str
) -> None:
    headers = {} if signature is None else {"X-Twilio-Signature": signature}
    if method == "GET":
        answer = ingest.get(path, params=form, headers=headers)
    else:
        answer = ingest.post(path, data=form, headers=headers)
    _count(answer, "ingest")


def test_zz_fuzz_report() -> None:
    """Prints the request and 5xx counts of the fuzz tests above (run them in the same session)."""
    print(f"\nfuzz: {dict(sorted(tally.items()))}")
    assert all(v == 0 for k, v in tally.items() if k.endswith("5xx"))
