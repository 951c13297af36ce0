"""What the events consumer notes for erasure: a received call's audio and the parties' hashed
numbers, so a call that never reached ``calls`` can be found (``--phone``) and its audio removed."""

from __future__ import annotations

import hashlib
import json

import pytest

from callpipe.avro import AvroSerde, LocalSchemaRegistry
from callpipe.errors import DependencyUnavailableError
from callpipe.models import RecordingReady
from callpipe.models.common import RecordingSource
from callpipe_sink.lifecycle import EventTopics, event_row
from callpipe_sink.lifecycle.event_rows import COLUMNS, party_hashes, phone_hash
from callpipe_sink.lifecycle.events_consumer import recording_decoder, rows_table
from callpipe_tools.examples import example_recording

TOPICS = EventTopics("callpipe.recordings", "callpipe.transcripts", "callpipe.call-events", "callpipe.dlq")
T0 = 1_764_900_000_000


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_a_received_recording_keeps_its_audio_and_the_hashed_numbers_not_the_numbers() -> None:
    registry = LocalSchemaRegistry.from_directory()
    recording = example_recording("CA-failed-1").model_copy(
        update={"audio_uri": "file:///rec/audio/ab/ab12.wav", "recording_id": "sha256:ab12"}
    )
    recording = recording.model_copy(update={"source": RecordingSource.UPLOAD})
    body = AvroSerde(RecordingReady, registry, "callpipe.recordings-value").serialize(recording)
    decode = recording_decoder(registry, "callpipe.recordings")

    row = event_row(TOPICS, "callpipe.recordings", b"CA-failed-1", body, None, T0, decode)

    assert row is not None and (row.event, row.stage) == ("received", "ingest")
    assert (row.audio_uri, row.recording_id, row.source) == (
        "file:///rec/audio/ab/ab12.wav",
        "sha256:ab12",
        "upload",
    )
    assert set(row.party_hashes) == {_sha("+15551230001"), _sha("+15559870000")}
    stored = rows_table([row]).to_pylist()[0]
    assert list(stored) == list(COLUMNS)
    assert "+15551230001" not in json.dumps(stored, default=str)  # only the hash is kept


def test_a_body_that_does_not_decode_keeps_its_received_event_without_facts() -> None:
    decode = recording_decoder(LocalSchemaRegistry.from_directory(), "callpipe.recordings")
    row = event_row(TOPICS, "callpipe.recordings", b"CA1", b"\x00\x00\x00\x00\x09garbage", None, T0, decode)
    assert row is not None and row.event == "received"
    assert (row.audio_uri, row.party_hashes) == ("", ())
    # Without a decoder (no registry given) the event is the same, facts left out.
    bare = event_row(TOPICS, "callpipe.recordings", b"CA1", b"\x00avro", None, T0)
    assert bare is not None and bare.audio_uri == ""


def test_a_consent_declined_fact_keeps_the_hashed_numbers_of_both_parties() -> None:
    fact = {
        "type": "consent_declined",
        "call_id": "CA-declined",
        "via": "dtmf",
        "from_number": "+15557770001",
        "to_number": "+15550000000",
    }
    row = event_row(TOPICS, "callpipe.call-events", b"CA-declined", json.dumps(fact).encode(), None, T0)
    assert row is not None and row.event == "consent_declined"
    assert row.party_hashes == party_hashes("+15557770001", "+15550000000")
    assert phone_hash("+15557770001") in row.party_hashes and "+15557770001" not in row.party_hashes


def test_party_hashes_skip_missing_numbers_and_repeat_none() -> None:
    assert party_hashes(None, "", 42) == ()
    assert party_hashes("+1555", "+1555") == (_sha("+1555"),)


class _RegistryDown:
    """A registry that cannot be reached: every lookup fails as the Confluent client's does."""

    def id_for(self, subject: str, schema: dict[str, object]) -> int:
        raise DependencyUnavailableError("schema registry unreachable")

    def schema_for(self, schema_id: int) -> dict[str, object]:
        raise DependencyUnavailableError("schema registry unreachable")


def test_an_unreachable_registry_is_not_taken_for_a_broken_body() -> None:
    # Swallowing it would store the received event without the audio for good; raised, the
    # consumer retries the uncommitted batch once the registry is back.
    registry = LocalSchemaRegistry.from_directory()
    serde = AvroSerde(RecordingReady, registry, "callpipe.recordings-value")
    body = serde.serialize(example_recording("CA2"))
    decode = recording_decoder(_RegistryDown(), "callpipe.recordings")
    with pytest.raises(DependencyUnavailableError):
        event_row(TOPICS, "callpipe.recordings", b"CA2", body, None, T0, decode)
