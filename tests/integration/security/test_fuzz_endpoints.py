"""Hypothesis fuzzing of every endpoint of ingest and insights: no answer may be a 5xx.

Covered: insights GET routes (found from the app, included routers too), the admin routes
(erase, reprocess, job status) with the admin token, ``POST /recordings`` (files, text fields,
well-formed and malformed ``audio_url``), ``POST /transcripts`` (vendor-shaped transcripts with
a few nodes replaced), Twilio webhooks both unsigned and validly signed (so the code behind the
signature check runs), health and metrics. Bounded: 120 derandomized examples per test (about
15 s in all); the report prints requests, 2xx and 5xx per group (``pytest -s``; the figures in
docs/security.md come from that).
"""

from __future__ import annotations

import json
import string
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import httpx2  # what fastapi.testclient answers with
import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr
from twilio.request_validator import RequestValidator

from callpipe.avro import LocalSchemaRegistry
from callpipe.store import LocalRecordingStore
from callpipe.transcripts import TRANSCRIPT_FORMATS
from callpipe_ingest.app import create_app
from callpipe_sink.insights import create_app as create_insights_app
from callpipe_sink.insights.admin_routes import ReprocessJobs
from callpipe_sink.lifecycle.erasure import Eraser
from callpipe_sink.lifecycle.reprocess import Reprocessor
from callpipe_sink.settings import InsightsSettings
from callpipe_sink.warehouse import Warehouse
from tests.integration.security.conftest import SEED_END, TOKEN
from tests.integration.security.test_ssrf import MALFORMED_URLS
from tests.unit.ingest.ingest_support import API_TOKEN, AUTH_TOKEN, BASE, MemorySender, wav_bytes
from tests.unit.transcriber.deepgram_bodies import DIARIZED as DG_DIARIZED
from tests.unit.transcriber.deepgram_bodies import MULTICHANNEL as DG_MULTICHANNEL
from tests.unit.transcripts.transcript_bodies import AWS_CHANNELS, AWS_DIARIZED, TEXT

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


def _count(answer: httpx.Response | httpx2.Response, service: str) -> None:
    tally[f"{service} requests"] += 1
    if 200 <= answer.status_code < 300:
        tally[f"{service} 2xx"] += 1
    if answer.status_code >= 500:
        tally[f"{service} 5xx"] += 1
    assert answer.status_code < 500, (answer.request.method, str(answer.request.url), answer.text[:300])


# ---- insights -------------------------------------------------------------------------------
def _insights_routes(api: TestClient) -> list[tuple[str, list[str]]]:
    """GET routes with their query parameter names; iter_route_contexts also descends into
    included routers (quality, lifecycle, media), which ``app.routes`` shows as one opaque entry."""
    routes = []
    for context in iter_route_contexts(api.app.routes):  # type: ignore[attr-defined]
        route, path = context.original_route, context.path or ""
        if isinstance(route, APIRoute) and "GET" in (route.methods or ()) and not path.startswith("/admin"):
            routes.append((path, [p.name for p in route.dependant.query_params]))
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


# ---- ingest: transcripts --------------------------------------------------------------------
TRANSCRIPT_KEYS = ["results", "transcripts", "items", "channels", "alternatives", "words", "utterances"]
TRANSCRIPT_KEYS += ["start", "end", "start_time", "end_time", "start_s", "end_s", "speaker", "role"]
TRANSCRIPT_KEYS += ["speaker_label", "channel", "channel_labels", "number_of_channels", "text", "type"]
TRANSCRIPT_KEYS += ["transcript", "content", "word", "punctuated_word", "speaker_labels", "segments"]
TRANSCRIPT_KEYS += ["call_id", "metadata", "language", "channel_count", "alternatives"]
json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    odd_text,
    st.sampled_from(["agent", "caller", "pronunciation", "punctuation", "spk_0", "ch_1", "1.5", "-3"]),
)
json_tree = st.recursive(
    json_leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(TRANSCRIPT_KEYS), inner, max_size=5)
    ),
    max_leaves=30,
)
text_line = st.builds(
    lambda stamp, label, words: f"{stamp}{label}: {words}",
    st.sampled_from(["", "[00:01] ", "[1:02:03.5] ", "[99:99] ", "[0:00] "]),
    st.sampled_from(["Agent", "Customer", "Caller", "rep", "Bob", "", "x" * 50]),
    st.text(max_size=30),
)
OWN_TRANSCRIPT = {
    "utterances": [
        {"role": "agent", "text": "thank you for calling", "start_s": 0.0, "end_s": 1.5},
        {"role": "caller", "text": "my card was charged twice", "start_s": 1.8, "end_s": 3.9},
    ]
}
TRANSCRIPT_TEMPLATES: list[Any] = [OWN_TRANSCRIPT, AWS_DIARIZED, AWS_CHANNELS, DG_DIARIZED, DG_MULTICHANNEL]


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    children = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    for key, value in children:
        yield from _paths(value, (*prefix, key))


def _replaced(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    """A copy of ``doc`` with the node at ``path`` replaced (or removed, for the DELETE marker)."""
    if not path:
        return value
    copy = dict(doc) if isinstance(doc, dict) else list(doc)
    key = path[0]
    inner = _replaced(copy[key], path[1:], value)
    if inner is _DELETE:
        del copy[key]
    else:
        copy[key] = inner
    return copy


_DELETE = object()


@st.composite
def mutated_transcript(draw: st.DrawFn) -> bytes:
    """A vendor-shaped transcript with up to three nodes replaced or removed: most examples get
    past the format detection, so the parsers and the publish path are what is fuzzed."""
    doc = draw(st.sampled_from(TRANSCRIPT_TEMPLATES))
    for _ in range(draw(st.integers(0, 3))):
        path = draw(st.sampled_from(list(_paths(doc))))
        doc = _replaced(doc, path, draw(st.one_of(json_leaf, json_tree, st.just(_DELETE))) if path else doc)
    return json.dumps(doc).encode()


transcript_body = st.one_of(
    mutated_transcript(),
    mutated_transcript(),
    json_tree.map(lambda doc: json.dumps(doc).encode()),
    st.lists(text_line, max_size=6).map(lambda lines: "\n".join(lines).encode()),
    st.just(TEXT.encode()),
    st.binary(max_size=300),
)


TRANSCRIPT_ROLES = '{"spk_0": "agent", "spk_1": "caller", "ch_0": "caller"}'


@FUZZ
@given(
    body=transcript_body,
    broken=st.sampled_from(["none", "format", "roles", "metadata", "text field"]),
    data=st.data(),
)
def test_transcript_upload_never_answers_5xx(
    ingest: TestClient, body: bytes, broken: str, data: st.DataObject
) -> None:
    """The body is always fuzzed; at most one other part of the form is, so most examples reach
    the transcript parsers instead of stopping at the first bad option."""
    form: dict[str, str] = {"metadata": "{}"}
    if broken == "format":
        form["format"] = data.draw(st.one_of(st.sampled_from([*TRANSCRIPT_FORMATS, "xml"]), odd_text))
    if broken == "roles" or data.draw(st.booleans()):
        form["speaker_roles"] = (
            data.draw(
                st.one_of(
                    odd_text, st.dictionaries(st.text(max_size=6), odd_text, max_size=3).map(json.dumps)
                )
            )
            if broken == "roles"
            else TRANSCRIPT_ROLES
        )
    if broken == "metadata":
        form["metadata"] = data.draw(metadata)
    auth = {"Authorization": f"Bearer {API_TOKEN}"}
    if broken == "text field":
        form["file"] = body.decode("latin-1")
        answer = ingest.post("/transcripts", data=form, headers=auth)
    else:
        answer = ingest.post("/transcripts", data=form, files={"file": ("t.json", body)}, headers=auth)
    _count(answer, "ingest transcripts")


# ---- ingest: Twilio webhooks past the signature check ---------------------------------------
TWILIO_PATHS = ["/twilio/voice", "/twilio/consent", "/twilio/recording-status"]
CALLBACK_QUERY_KEYS = ["from", "to", "dir", "agent", "queue", "started", "consent", "x"]
TWILIO_VALUES = {
    "AccountSid": "AC" + "0" * 32,
    "CallSid": "CA" + "1" * 32,
    "RecordingSid": "RE" + "a" * 32,
    "RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC0/Recordings/RE" + "a" * 32,
    "RecordingStatus": "completed",
    "RecordingDuration": "42",
    "RecordingChannels": "2",
    "RecordingStartTime": "Mon, 22 Aug 2011 20:58:45 +0000",
    "From": "+14155550100",
    "To": "+18005550199",
    "Direction": "inbound",
    "Digits": "1",
    "SpeechResult": "yes",
}


@FUZZ
@given(
    path=st.sampled_from(TWILIO_PATHS),
    overrides=st.dictionaries(
        st.sampled_from([*TWILIO_VALUES, "ErrorCode"]),
        st.one_of(odd_text, st.sampled_from(list(TWILIO_VALUES.values()))),
        max_size=3,
    ),
    dropped=st.lists(st.sampled_from(list(TWILIO_VALUES)), unique=True, max_size=3),
    query=st.dictionaries(
        st.sampled_from(CALLBACK_QUERY_KEYS),
        st.one_of(
            odd_text,
            st.sampled_from(["+14155550100", "support", "inbound", "granted", "2026-11-20T10:00:00+00:00"]),
        ),
        max_size=5,
    ),
)
def test_signed_twilio_webhooks_never_answer_5xx(
    ingest: TestClient, path: str, overrides: dict[str, str], dropped: list[str], query: dict[str, str]
) -> None:
    """Validly signed: the code behind the signature check (form models, TwiML, the callback's
    query metadata, the publish) is what gets fuzzed. A 403 here would mean the signing is off."""
    # Plausible values first, then a few fields dropped or replaced: most requests are accepted
    # (200 + TwiML, or a published recording), the rest fail one field at a time.
    params = {k: v for k, v in {**TWILIO_VALUES, **overrides}.items() if k not in dropped}
    params["RecordingSid"] = params.get("RecordingSid", "")[:2] + uuid.uuid4().hex  # not a duplicate
    url = path + ("?" + urlencode(query) if query else "")
    signature = RequestValidator(AUTH_TOKEN).compute_signature(BASE + url, params)
    answer = ingest.post(url, data=params, headers={"X-Twilio-Signature": signature})
    _count(answer, "ingest twilio signed")
    assert answer.status_code != 403, (url, params, answer.text)


# ---- insights: admin routes -----------------------------------------------------------------
ADMIN_TOKEN = "security-admin-0123456789abcdef"
ADMIN_KEYS = ["call_ids", "phone", "requested_by", "max_calls", "dry_run", "since", "until", "from"]
ADMIN_KEYS += ["queue", "agent_id", "intent", "rate", "extra"]
admin_value = st.one_of(
    odd_text,
    st.lists(odd_text, max_size=3),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.floats(),
    st.booleans(),
    st.none(),
    st.sampled_from(
        ["transcribe", "analyze", "2026-11-10T00:00:00Z", "2026-11-20T12:00:00Z", "ops@example.com"]
    ),
)


async def _discard(*_: object) -> None:
    return None


@pytest.fixture(scope="module")
def admin_api(warehouse: Warehouse, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """Insights with the admin routes wired (erasure without a recording store, reprocessing into a
    sender that drops events); runs last in this module, since erasure really deletes."""
    settings = InsightsSettings(token=SecretStr(TOKEN), admin_token=SecretStr(ADMIN_TOKEN))
    jobs = ReprocessJobs(Reprocessor(warehouse), _discard, tmp_path_factory.mktemp("reprocess"))
    app = create_insights_app(
        warehouse, settings, clock=lambda: SEED_END, eraser=Eraser(warehouse, None), reprocess=jobs
    )
    with TestClient(app) as client:
        yield client


VALID_ADMIN_BODIES = {
    "/admin/erase": {"call_ids": ["call-1"], "requested_by": "ops@example.com", "dry_run": True},
    "/admin/reprocess": {
        "since": "2026-11-10T00:00:00Z",
        "until": "2026-11-20T12:00:00Z",
        "from": "analyze",
        "rate": 10000,
        "max_calls": 3,
        "dry_run": True,
    },
}


@st.composite
def admin_body(draw: st.DrawFn, path: str) -> str:
    """Mostly a valid body with up to three fields replaced or dropped; sometimes garbage."""
    valid = VALID_ADMIN_BODIES.get(path, {})
    overrides = draw(st.dictionaries(st.sampled_from(ADMIN_KEYS), admin_value, max_size=3))
    dropped = draw(st.lists(st.sampled_from(ADMIN_KEYS), max_size=2))
    body = {k: v for k, v in {**valid, **overrides}.items() if k not in dropped}
    return draw(
        st.one_of(
            st.just(json.dumps(body)),
            st.just(json.dumps(body)),
            odd_text,
            st.binary(max_size=100).map(lambda b: b.decode("latin-1")),
        )
    )


@FUZZ
@given(
    route=st.sampled_from(["POST /admin/erase", "POST /admin/reprocess", "GET /admin/reprocess/{job_id}"]),
    body=st.data(),
    job_id=st.one_of(st.uuids().map(str), odd_text.filter(bool)),
    token=st.sampled_from([ADMIN_TOKEN, ADMIN_TOKEN, ADMIN_TOKEN, TOKEN, None]),
)
def test_admin_endpoints_never_answer_5xx(
    admin_api: TestClient, route: str, body: st.DataObject, job_id: str, token: str | None
) -> None:
    method, path = route.split(" ")
    content = body.draw(admin_body(path))
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    path = path.replace("{job_id}", quote(job_id, safe=""))
    answer = admin_api.request(
        method, path, content=content.encode() if method == "POST" else None, headers=headers
    )
    _count(answer, "insights admin")


def test_zz_fuzz_report() -> None:
    """Prints the request, 2xx and 5xx counts of the fuzz tests above (run them in the same
    session). The 2xx counts are the control that the valid-based strategies get past validation:
    a fuzz that is refused at the first check fuzzes nothing behind it."""
    print(f"\nfuzz: {dict(sorted(tally.items()))}")
    assert all(v == 0 for k, v in tally.items() if k.endswith("5xx"))
    for service in ("ingest transcripts", "ingest twilio signed", "insights admin"):
        if tally[f"{service} requests"]:
            assert tally[f"{service} 2xx"] > 0, f"{service}: no request got past validation"
