"""Response bodies shaped like Deepgram's documented pre-recorded (``/v1/listen``) responses.

Shared by the adapter unit tests and the fault-injection integration test, so both speak to the
same documented shape: ``metadata``, ``results.channels[].alternatives[]`` with ``words[]``
(``punctuated_word``, ``speaker`` when diarized) and ``results.utterances[]`` (``channel``,
``speaker``), plus the documented error body ``{"err_code", "err_msg", "request_id"}``.
"""

from __future__ import annotations

__all__ = ["DIARIZED", "MULTICHANNEL", "error_body"]


def _dg_word(word: str, start: float, end: float, speaker: int | None = None) -> dict[str, object]:
    w: dict[str, object] = {
        "word": word.lower().strip(".,?"),
        "start": start,
        "end": end,
        "confidence": 0.98,
        "punctuated_word": word,
    }
    if speaker is not None:
        w["speaker"] = speaker
        w["speaker_confidence"] = 0.9
    return w


# Shaped like Deepgram's documented pre-recorded response with multichannel + utterances.
MULTICHANNEL = {
    "metadata": {"request_id": "a1b2", "duration": 6.0, "channels": 2, "models": ["nova-3"]},
    "results": {
        "channels": [
            {
                "alternatives": [
                    {
                        "transcript": "I was charged twice.",
                        "confidence": 0.97,
                        "words": [
                            _dg_word("I", 3.1, 3.2),
                            _dg_word("was", 3.2, 3.4),
                            _dg_word("charged", 3.4, 3.8),
                            _dg_word("twice.", 3.8, 4.2),
                        ],
                    }
                ]
            },
            {
                "alternatives": [
                    {
                        "transcript": "Thank you for calling.",
                        "confidence": 0.99,
                        "words": [
                            _dg_word("Thank", 0.5, 0.7),
                            _dg_word("you", 0.7, 0.8),
                            _dg_word("for", 0.8, 0.9),
                            _dg_word("calling.", 0.9, 1.4),
                        ],
                    }
                ]
            },
        ],
        "utterances": [
            {
                "start": 0.5,
                "end": 1.4,
                "confidence": 0.99,
                "channel": 1,
                "transcript": "Thank you for calling.",
                "words": [
                    _dg_word("Thank", 0.5, 0.7),
                    _dg_word("you", 0.7, 0.8),
                    _dg_word("for", 0.8, 0.9),
                    _dg_word("calling.", 0.9, 1.4),
                ],
                "id": "u1",
            },
            {
                "start": 3.1,
                "end": 4.2,
                "confidence": 0.97,
                "channel": 0,
                "transcript": "I was charged twice.",
                "words": [
                    _dg_word("I", 3.1, 3.2),
                    _dg_word("was", 3.2, 3.4),
                    _dg_word("charged", 3.4, 3.8),
                    _dg_word("twice.", 3.8, 4.2),
                ],
                "id": "u2",
            },
        ],
    },
}

DIARIZED = {
    "metadata": {"request_id": "c3d4", "duration": 6.0, "channels": 1},
    "results": {
        "channels": [
            {
                "alternatives": [
                    {
                        "transcript": "Thank you for calling. Hi.",
                        "confidence": 0.95,
                        "words": [_dg_word("Thank", 0.5, 0.7, 0), _dg_word("Hi.", 3.0, 3.2, 1)],
                    }
                ],
                "detected_language": "en",
            }
        ],
        "utterances": [
            {
                "start": 0.5,
                "end": 1.4,
                "confidence": 0.95,
                "channel": 0,
                "speaker": 0,
                "transcript": "Thank you for calling.",
                "words": [_dg_word("Thank", 0.5, 0.7, 0)],
                "id": "u1",
            },
            {
                "start": 3.0,
                "end": 3.2,
                "confidence": 0.9,
                "channel": 0,
                "speaker": 1,
                "transcript": "Hi.",
                "words": [_dg_word("Hi.", 3.0, 3.2, 1)],
                "id": "u2",
            },
        ],
    },
}


def error_body(status: int, request_id: str = "f0e1d2c3-0000-4000-8000-000000000000") -> dict[str, str]:
    """Deepgram's documented error body for an HTTP status (429 and 5xx as the API reference shows)."""
    codes = {
        429: ("TOO_MANY_REQUESTS", "Too many requests. Please try again later"),
        500: ("INTERNAL_SERVER_ERROR", "Internal server error"),
        502: ("BAD_GATEWAY", "Bad gateway"),
        503: ("SERVICE_UNAVAILABLE", "Service unavailable"),
    }
    code, message = codes.get(status, ("ERROR", f"HTTP {status}"))
    return {"err_code": code, "err_msg": message, "request_id": request_id}
