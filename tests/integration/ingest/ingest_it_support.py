"""Helpers for ingest integration tests: Twilio signing, callback parameters, reading a topic."""

from __future__ import annotations

import uuid

from confluent_kafka import Message
from twilio.request_validator import RequestValidator

from tests.integration import kafka_support

AUTH_TOKEN = "12345"  # Twilio's documented example token
API_TOKEN = "integration-upload-token"
BASE = "https://calls.example.com"
ACCOUNT = "AC" + "0" * 32
# Short enough that a stopped broker answers 503 quickly; long enough for a loaded 2-core box.
PUBLISH_TIMEOUT_S = 5.0


def signed(path: str, params: dict[str, str], base: str = BASE) -> dict[str, str]:
    """The X-Twilio-Signature header Twilio would send for ``params`` POSTed to ``base + path``."""
    return {"X-Twilio-Signature": RequestValidator(AUTH_TOKEN).compute_signature(base + path, params)}


def completed_callback(call_sid: str, recording_sid: str) -> dict[str, str]:
    """A recording-status callback for a completed dual-channel recording, as Twilio documents it."""
    return {
        "AccountSid": ACCOUNT,
        "CallSid": call_sid,
        "RecordingSid": recording_sid,
        "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Recordings/{recording_sid}",
        "RecordingStatus": "completed",
        "RecordingDuration": "42",
        "RecordingChannels": "2",
        "RecordingSource": "DialVerb",
        "RecordingStartTime": "Mon, 22 Aug 2011 20:58:45 +0000",
    }


def new_sids() -> tuple[str, str]:
    """A fresh CallSid and RecordingSid (so tests never share an idempotency id)."""
    return "CA" + uuid.uuid4().hex, "RE" + uuid.uuid4().hex


def read_topic(bootstrap: str, topic: str, *, expect: int, timeout_s: float = 30.0) -> list[Message]:
    """Every record on ``topic`` from the start, with a 2 s grace read for duplicates."""
    return kafka_support.read_topic(bootstrap, topic, expect, timeout_s, grace_s=2.0)
