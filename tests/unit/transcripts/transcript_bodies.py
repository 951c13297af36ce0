"""Transcripts shaped as their vendors document them, for the parser and ingest tests.

AWS: the Transcribe developer guide's "Example diarization output (batch)" (speaker_labels with
segments, items with ``speaker_label``, times as strings, punctuation items without times) and its
channel-identification output (``channel_labels.channels[].items``). Deepgram: the pre-recorded
bodies of tests/unit/transcriber/deepgram_bodies.py.
"""

from __future__ import annotations

from typing import Any

__all__ = ["AWS_CHANNELS", "AWS_DIARIZED", "TEXT"]


def _aws_item(i: int, content: str, start: str, end: str, **extra: str) -> dict[str, Any]:
    return {
        "id": i,
        "start_time": start,
        "end_time": end,
        "alternatives": [{"confidence": "0.99", "content": content}],
        "type": "pronunciation",
        **extra,
    }


def _aws_punct(i: int, content: str, **extra: str) -> dict[str, Any]:
    return {
        "id": i,
        "alternatives": [{"confidence": "0.0", "content": content}],
        "type": "punctuation",
        **extra,
    }


AWS_DIARIZED: dict[str, Any] = {
    "jobName": "my-first-transcription-job",
    "accountId": "111122223333",
    "results": {
        "transcripts": [{"transcript": "Thank you for calling. I've been on hold for an hour."}],
        "speaker_labels": {
            "channel_label": "ch_0",
            "speakers": 2,
            "segments": [
                {
                    "start_time": "0.5",
                    "speaker_label": "spk_0",
                    "end_time": "1.6",
                    "items": [
                        {"start_time": "0.5", "speaker_label": "spk_0", "end_time": "0.8"},
                        {"start_time": "0.8", "speaker_label": "spk_0", "end_time": "1.0"},
                        {"start_time": "1.0", "speaker_label": "spk_0", "end_time": "1.1"},
                        {"start_time": "1.1", "speaker_label": "spk_0", "end_time": "1.6"},
                    ],
                },
                {
                    "start_time": "4.87",
                    "speaker_label": "spk_1",
                    "end_time": "6.88",
                    "items": [
                        {"start_time": "4.87", "speaker_label": "spk_1", "end_time": "5.02"},
                        {"start_time": "5.02", "speaker_label": "spk_1", "end_time": "5.17"},
                        {"start_time": "5.17", "speaker_label": "spk_1", "end_time": "5.29"},
                        {"start_time": "5.29", "speaker_label": "spk_1", "end_time": "5.64"},
                        {"start_time": "5.64", "speaker_label": "spk_1", "end_time": "5.84"},
                        {"start_time": "6.11", "speaker_label": "spk_1", "end_time": "6.26"},
                        {"start_time": "6.26", "speaker_label": "spk_1", "end_time": "6.88"},
                    ],
                },
            ],
        },
        "items": [
            _aws_item(0, "Thank", "0.5", "0.8", speaker_label="spk_0"),
            _aws_item(1, "you", "0.8", "1.0", speaker_label="spk_0"),
            _aws_item(2, "for", "1.0", "1.1", speaker_label="spk_0"),
            _aws_item(3, "calling", "1.1", "1.6", speaker_label="spk_0"),
            _aws_punct(4, ".", speaker_label="spk_0"),
            _aws_item(5, "I've", "4.87", "5.02", speaker_label="spk_1"),
            _aws_item(6, "been", "5.02", "5.17", speaker_label="spk_1"),
            _aws_item(7, "on", "5.17", "5.29", speaker_label="spk_1"),
            _aws_item(8, "hold", "5.29", "5.64", speaker_label="spk_1"),
            _aws_item(9, "for", "5.64", "5.84", speaker_label="spk_1"),
            _aws_item(10, "an", "6.11", "6.26", speaker_label="spk_1"),
            _aws_item(11, "hour", "6.26", "6.88", speaker_label="spk_1"),
            _aws_punct(12, ".", speaker_label="spk_1"),
        ],
        "audio_segments": [],
    },
    "status": "COMPLETED",
}

AWS_CHANNELS: dict[str, Any] = {
    "jobName": "channel-id-job",
    "accountId": "111122223333",
    "results": {
        "transcripts": [{"transcript": "Acme support. I want to cancel my service."}],
        "channel_labels": {
            "channels": [
                {
                    "channel_label": "ch_0",
                    "items": [
                        _aws_item(3, "I", "2.1", "2.2", channel_label="ch_0"),
                        _aws_item(4, "want", "2.2", "2.4", channel_label="ch_0"),
                        _aws_item(5, "to", "2.4", "2.5", channel_label="ch_0"),
                        _aws_item(6, "cancel", "2.5", "2.9", channel_label="ch_0"),
                        _aws_item(7, "my", "2.9", "3.0", channel_label="ch_0"),
                        _aws_item(8, "service", "3.0", "3.5", channel_label="ch_0"),
                        _aws_punct(9, ".", channel_label="ch_0"),
                    ],
                },
                {
                    "channel_label": "ch_1",
                    "items": [
                        _aws_item(0, "Acme", "0.3", "0.7", channel_label="ch_1"),
                        _aws_item(1, "support", "0.7", "1.2", channel_label="ch_1"),
                        _aws_punct(2, ".", channel_label="ch_1"),
                    ],
                },
            ],
            "number_of_channels": 2,
        },
        "items": [],
    },
    "status": "COMPLETED",
}

TEXT = """[00:01] Agent: Thank you for calling Acme, this is Sam.
[00:04] Customer: Hi Sam. We're moving overseas next month,
so I need to close my account.
[00:11] Agent: I can set the account to close on the thirtieth.
[01:02] Customer: The thirtieth is perfect, thanks.
"""
