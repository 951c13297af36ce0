"""Twilio webhooks through the app: TwiML, signed recording callbacks, duplicates, broker down."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from callpipe.avro import AvroSerde, LocalSchemaRegistry
from callpipe.models import Consent, Direction, RecordingReady, RecordingSource, Role
from callpipe.settings import TopicSettings
from tests.unit.ingest.ingest_support import AUTH_TOKEN, BASE, MemorySender, make_settings

TOPICS = TopicSettings()
CALL_SID = "CA" + "1" * 32
REC_SID = "RE" + "a" * 32
ACCOUNT = "AC" + "0" * 32


def signed(path: str, params: dict[str, str]) -> dict[str, str]:
    return {"X-Twilio-Signature": RequestValidator(AUTH_TOKEN).compute_signature(BASE + path, params)}


def completed(**overrides: str) -> dict[str, str]:
    params = {
        "AccountSid": ACCOUNT,
        "CallSid": CALL_SID,
        "RecordingSid": REC_SID,
        "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Recordings/{REC_SID}",
        "RecordingStatus": "completed",
        "RecordingDuration": "42",
        "RecordingChannels": "2",
        "RecordingSource": "DialVerb",
        "RecordingStartTime": "Mon, 22 Aug 2011 20:58:45 +0000",
    }
    params.update(overrides)
    return params


async def voice_twiml(client: httpx.AsyncClient, direction: str = "inbound") -> ET.Element:
    params = {"CallSid": CALL_SID, "From": "+14155550100", "To": "+18005550199", "Direction": direction}
    response = await client.post("/twilio/voice", data=params, headers=signed("/twilio/voice", params))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/xml")
    return ET.fromstring(response.text)


def decode(value: bytes) -> RecordingReady:
    return AvroSerde(
        RecordingReady, LocalSchemaRegistry.from_directory(), f"{TOPICS.recordings}-value"
    ).deserialize(value)


async def test_voice_twiml_discloses_then_dials_recorded_dual_channel(client: httpx.AsyncClient) -> None:
    root = await voice_twiml(client)
    assert [child.tag for child in root] == ["Say", "Dial"]
    assert "recorded" in (root[0].text or "")
    dial = root[1]
    assert dial.get("record") == "record-from-answer-dual"
    queue = dial.find("Queue")
    assert queue is not None
    assert queue.text == "support"
    callback = dial.get("recordingStatusCallback") or ""
    assert callback.startswith(f"{BASE}/twilio/recording-status?")
    carried = dict(parse_qsl(urlsplit(callback).query))
    assert carried["from"] == "+14155550100"
    assert carried["queue"] == "support"
    assert carried["dir"] == "inbound"
    assert carried["consent"] == "not_required"


async def test_metadata_in_signed_callback_url_reaches_the_event(
    client: httpx.AsyncClient, sender: MemorySender
) -> None:
    callback = (await voice_twiml(client))[1].get("recordingStatusCallback") or ""
    path = callback.removeprefix(BASE)
    params = completed()
    response = await client.post(path, data=params, headers=signed(path, params))
    assert response.status_code == 200
    assert response.json()["status"] == "published"
    [(topic, key, value)] = sender.records
    event = decode(value)
    assert (topic, key) == (TOPICS.recordings, CALL_SID)
    assert event.call_id == CALL_SID
    assert event.recording_id == REC_SID
    assert event.source is RecordingSource.TWILIO
    assert event.audio_uri == params["RecordingUrl"]
    assert event.duration_s == 42.0
    assert event.channel_count == 2
    assert [(r.channel, r.role) for r in event.channel_roles] == [(0, Role.CALLER), (1, Role.AGENT)]
    assert event.metadata.from_number == "+14155550100"
    assert event.metadata.queue == "support"
    assert event.metadata.direction is Direction.INBOUND
    assert event.metadata.consent is Consent.NOT_REQUIRED
    assert event.metadata.started_at is not None
    assert event.metadata.started_at.year == 2011


async def test_duplicate_callbacks_publish_once(client: httpx.AsyncClient, sender: MemorySender) -> None:
    params = completed()
    path = "/twilio/recording-status"
    statuses = [
        (await client.post(path, data=params, headers=signed(path, params))).json()["status"]
        for _ in range(3)
    ]
    assert statuses == ["published", "duplicate", "duplicate"]
    assert len(sender.on(TOPICS.recordings)) == 1


async def test_non_final_statuses_are_acknowledged_without_event(
    client: httpx.AsyncClient, sender: MemorySender
) -> None:
    for status in ("in-progress", "absent", "failed"):
        params = completed(RecordingStatus=status)
        response = await client.post(
            "/twilio/recording-status", data=params, headers=signed("/twilio/recording-status", params)
        )
        assert response.status_code == 200
        assert response.json()["status"] == "ignored"
    assert sender.records == []


@pytest.mark.parametrize("headers", [{}, {"X-Twilio-Signature": "RSOYDt4T1cUTdK1PDd93/VVr8B8="}])
async def test_unsigned_or_forged_callbacks_are_403(
    client: httpx.AsyncClient, sender: MemorySender, headers: dict[str, str]
) -> None:
    response = await client.post("/twilio/recording-status", data=completed(), headers=headers)
    assert response.status_code == 403
    assert sender.records == []


async def test_replay_with_changed_params_is_403(client: httpx.AsyncClient, sender: MemorySender) -> None:
    path = "/twilio/recording-status"
    headers = signed(path, completed())
    changed = completed(RecordingSid="RE" + "b" * 32)
    assert (await client.post(path, data=changed, headers=headers)).status_code == 403
    # Changing the signed metadata in the query string breaks the signature too.
    assert (await client.post(path + "?queue=vip", data=completed(), headers=headers)).status_code == 403
    assert sender.records == []


async def test_broker_down_is_503_with_retry_after_then_retry_lands_once(
    client: httpx.AsyncClient, sender: MemorySender
) -> None:
    path = "/twilio/recording-status"
    params = completed()
    sender.down = True
    response = await client.post(path, data=params, headers=signed(path, params))
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) > 0
    sender.down = False
    for _ in range(2):
        assert (await client.post(path, data=params, headers=signed(path, params))).status_code == 200
    assert len(sender.records) == 1


async def test_signed_but_invalid_callback_is_400(client: httpx.AsyncClient, sender: MemorySender) -> None:
    for params in (completed(RecordingSid="nope"), completed(RecordingUrl="https://evil.example/a.wav")):
        path = "/twilio/recording-status"
        response = await client.post(path, data=params, headers=signed(path, params))
        assert response.status_code == 400, response.text
    assert sender.records == []


async def test_consent_gate_declined_publishes_fact_and_dials_unrecorded(sender: MemorySender, store) -> None:
    from callpipe_ingest.app import create_app

    async def ready() -> str | None:
        return None

    app = create_app(
        make_settings(consent_required=True),
        sender,
        store,
        registry=LocalSchemaRegistry.from_directory(),
        readiness=ready,
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client:
        root = await voice_twiml(client)
        assert [c.tag for c in root] == ["Say", "Gather", "Redirect"]
        action = root[1].get("action") or ""
        path = action.removeprefix(BASE)
        for digits, recorded in (("1", True), ("2", False)):
            params = {"CallSid": CALL_SID, "Digits": digits}
            answer = await client.post(path, data=params, headers=signed(path, params))
            dial = ET.fromstring(answer.text).find("Dial")
            assert dial is not None
            assert (dial.get("record") == "record-from-answer-dual") is recorded
        speech = {"CallSid": CALL_SID, "SpeechResult": "No, I don't want that."}
        answer = await client.post(path, data=speech, headers=signed(path, speech))
        assert ET.fromstring(answer.text).find("Dial").get("record") is None  # type: ignore[union-attr]
    facts = sender.on(TOPICS.call_events)
    assert len(facts) == 2
    assert sender.on(TOPICS.recordings) == []
    fact = json.loads(facts[0][2])
    assert fact["type"] == "consent_declined"
    assert fact["call_id"] == CALL_SID
    assert fact["via"] == "dtmf"
    assert json.loads(facts[1][2])["via"] == "speech"


_FIELDS = list(completed())


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    params=st.dictionaries(
        st.sampled_from([*_FIELDS, "Extra", ""]),
        st.one_of(st.text(max_size=60), st.sampled_from(list(completed().values()))),
        max_size=12,
    ),
    sign=st.booleans(),
)
async def test_property_never_5xx_never_event_from_invalid(
    client: httpx.AsyncClient, sender: MemorySender, params: dict[str, str], sign: bool
) -> None:
    path = "/twilio/recording-status"
    before = len(sender.records)
    headers = signed(path, params) if sign else {"X-Twilio-Signature": "x"}
    response = await client.post(path, data=params, headers=headers)
    assert response.status_code < 500, response.text
    if len(sender.records) > before:
        # Only a signed, completed, well-formed callback may produce an event.
        assert sign
        assert response.status_code == 200
        assert response.json()["status"] == "published"
        assert params.get("RecordingStatus") == "completed"
        assert params.get("RecordingSid", "").startswith("RE")
    if not sign:
        assert response.status_code == 403
