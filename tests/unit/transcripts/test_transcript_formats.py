"""Transcript files in each supported format → turns with roles and times; bad ones → a reason."""

from __future__ import annotations

import json

import pytest

from callpipe.models import RecordingSource, Role
from callpipe.transcripts import TranscriptFormatError, read_transcript, transcript_event, transcript_sha256
from callpipe_tools.examples import example_transcript
from tests.unit.transcriber.deepgram_bodies import DIARIZED, MULTICHANNEL
from tests.unit.transcripts.transcript_bodies import AWS_CHANNELS, AWS_DIARIZED, TEXT


def _event(data: bytes, **kwargs: object):
    return transcript_event(read_transcript(data), transcript_sha256(data), **kwargs)  # type: ignore[arg-type]


def test_aws_diarized_output_becomes_two_turns_agent_first() -> None:
    data = json.dumps(AWS_DIARIZED).encode()
    event = _event(data)
    assert [(u.speaker, u.text) for u in event.utterances] == [
        ("spk_0", "Thank you for calling."),
        ("spk_1", "I've been on hold for an hour."),
    ]
    assert [u.role for u in event.utterances] == [Role.AGENT, Role.CALLER]
    assert event.roles_low_confidence and event.role_confidence == 0.5  # guessed: first speaker
    assert event.utterances[1].start_s == pytest.approx(4.87) and event.utterances[1].end_s == pytest.approx(
        6.88
    )
    assert event.engine == "aws-transcribe" and event.audio_uri == ""
    assert event.recording_id == f"sha256:{transcript_sha256(data)}"
    assert event.call_id == f"sha256-{transcript_sha256(data)[:32]}"


def test_aws_speaker_roles_mapping_is_applied_with_full_confidence() -> None:
    event = _event(
        json.dumps(AWS_DIARIZED).encode(), speaker_roles={"spk_0": Role.CALLER, "spk_1": Role.AGENT}
    )
    assert [u.role for u in event.utterances] == [Role.CALLER, Role.AGENT]
    assert not event.roles_low_confidence
    with pytest.raises(TranscriptFormatError, match="none of the transcript's speakers"):
        _event(json.dumps(AWS_DIARIZED).encode(), speaker_roles={"Speaker A": Role.AGENT})


def test_aws_channel_identification_maps_channels_like_twilio() -> None:
    event = _event(json.dumps(AWS_CHANNELS).encode())
    assert [(u.channel, u.role, u.text) for u in event.utterances] == [
        (1, Role.AGENT, "Acme support."),
        (0, Role.CALLER, "I want to cancel my service."),
    ]
    assert event.channel_count == 2 and not event.roles_low_confidence


def test_deepgram_multichannel_utterances() -> None:
    event = _event(json.dumps(MULTICHANNEL).encode())
    assert [(u.channel, u.role, u.text) for u in event.utterances] == [
        (1, Role.AGENT, "Thank you for calling."),
        (0, Role.CALLER, "I was charged twice."),
    ]
    assert event.engine == "deepgram" and event.model == "nova-3"
    assert event.audio_duration_s == pytest.approx(6.0)
    assert event.utterances[1].words is not None and event.utterances[1].words[0].word == "I"


def test_deepgram_diarized_utterances_and_words_only() -> None:
    event = _event(json.dumps(DIARIZED).encode())
    assert [u.speaker for u in event.utterances][:1] == ["spk0"] and event.utterances[0].role is Role.AGENT
    assert event.language == "en"
    # Without utterances=true only words exist: turns are grouped from the words' speakers.
    words_only = json.loads(json.dumps(DIARIZED))
    del words_only["results"]["utterances"]
    turns = _event(json.dumps(words_only).encode()).utterances
    assert [(u.speaker, u.text, u.role) for u in turns] == [
        ("spk0", "Thank", Role.AGENT),
        ("spk1", "Hi.", Role.CALLER),
    ]


def test_speaker_labelled_text_with_timestamps_and_continuation_lines() -> None:
    event = _event(TEXT.encode())
    assert [u.role for u in event.utterances] == [Role.AGENT, Role.CALLER, Role.AGENT, Role.CALLER]
    assert (
        event.utterances[1].text == "Hi Sam. We're moving overseas next month, so I need to close my account."
    )
    assert [u.start_s for u in event.utterances] == [1.0, 4.0, 11.0, 62.0]
    assert event.utterances[0].end_s <= 4.0  # never past the next turn's start
    assert not event.roles_low_confidence and event.engine == "text"


def test_text_without_timestamps_gets_estimated_times() -> None:
    parsed = read_transcript(b"Agent: Hello, Acme.\nCaller: Hi, my internet is down again.\n")
    assert "timings_estimated" in parsed.notes
    assert parsed.utterances[0].start_s == 0.0 < parsed.utterances[0].end_s < parsed.utterances[1].start_s


def test_own_json_whole_event_and_short_form() -> None:
    event = example_transcript("CA-own")
    parsed = read_transcript(event.model_dump_json().encode())
    assert parsed.utterances == list(event.utterances) and parsed.engine == event.engine
    short = {
        "language": "en",
        "utterances": [{"role": "agent", "text": "Acme."}, {"role": "caller", "text": "Hi."}],
    }
    made = _event(json.dumps(short).encode(), source=RecordingSource.UPLOAD)
    assert [u.role for u in made.utterances] == [
        Role.AGENT,
        Role.CALLER,
    ] and made.source is RecordingSource.UPLOAD


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "no speaker-labelled line"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "NUL bytes|not UTF-8"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", "NUL bytes"),
        (b'{"results": {"items": []', "not valid JSON"),
        (b'{"hello": "world"}', "not a transcript callpipe knows"),
        (b"Narrator: Once upon a time", "expected 'Agent"),
        (b"[00:10] Agent: Hi.\n[00:05] Customer: Hello.", "backwards"),
        (b"[00:10] Agent: Hi.\nCustomer: Hello.", "every line"),
        (
            json.dumps({"results": {"transcripts": [], "items": [{"type": "pronunciation"}]}}).encode(),
            "alternatives",
        ),
        (json.dumps({"results": {"channels": [{"alternatives": []}]}}).encode(), "no alternatives"),
        (json.dumps({"utterances": [{"role": "boss", "text": "x"}]}).encode(), r"utterances\[0\]"),
        (json.dumps({"utterances": []}).encode(), "empty"),
        (json.dumps({"results": {"transcripts": [], "items": []}}).encode(), "no spoken words"),
    ],
)
def test_bad_transcripts_are_refused_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(TranscriptFormatError, match=reason):
        read_transcript(data)


def test_a_named_format_must_match_the_content() -> None:
    with pytest.raises(TranscriptFormatError, match="'deepgram' was named"):
        read_transcript(json.dumps(AWS_DIARIZED).encode(), "deepgram")
