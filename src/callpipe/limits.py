"""Input limits, one module for every entry point: the upload API, the bulk import and the
insights API enforce these same values (README "Input limits" lists them).

Why each exists: labels (agent, queue, intent, topic) are filter keys, so control characters or
markup in them make a call unfindable and turn into injection payloads wherever they are shown;
a ``started_at`` in year 1 or 9999 pins a call to the top or bottom of every dashboard forever and
makes date arithmetic in the warehouse overflow; unbounded attributes are a memory and storage
amplifier returned on every read.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

__all__ = [
    "ATTRIBUTES_MAX_BYTES",
    "ATTRIBUTES_MAX_COUNT",
    "ATTRIBUTE_KEY_PATTERN",
    "ATTRIBUTE_VALUE_MAX_CHARS",
    "AUDIO_MAX_CHANNELS",
    "AUDIO_MAX_DURATION_S",
    "AUDIO_MAX_SAMPLE_RATE",
    "AUDIO_MIN_DURATION_S",
    "AUDIO_MIN_SAMPLE_RATE",
    "AUDIO_TRUNCATION_TOLERANCE",
    "EARLIEST_CALL",
    "LABEL_MAX_CHARS",
    "LABEL_PATTERN",
    "MAX_FUTURE",
    "PARTY_PATTERN",
    "date_in_window",
]

# Labels: letters/digits (any script), space and . : @ / + _ - ; no control characters, no < > " '.
LABEL_MAX_CHARS = 128
LABEL_PATTERN = r"^[\w .:@/+-]{1,128}$"
# Phone numbers and Twilio party strings (+15551234567, client:alice, sip:a@b.example).
PARTY_PATTERN = r"^[\w+:@.*#-]{1,64}$"

ATTRIBUTES_MAX_COUNT = 50
ATTRIBUTE_KEY_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"
ATTRIBUTE_VALUE_MAX_CHARS = 1024
ATTRIBUTES_MAX_BYTES = 16 * 1024  # all keys and values together, UTF-8

# Calls are dated between this and now + MAX_FUTURE (clock skew between telephony and us).
EARLIEST_CALL = datetime(2000, 1, 1, tzinfo=UTC)
MAX_FUTURE = timedelta(days=1)

AUDIO_MAX_CHANNELS = 8
AUDIO_MIN_SAMPLE_RATE = 8000
AUDIO_MAX_SAMPLE_RATE = 96000
AUDIO_MIN_DURATION_S = 0.1
# One duration limit for ingest's decode check and the transcriber (its default and floor): a
# longer file is refused with 422 before the 201, never accepted and dead-lettered later. 2 h
# because the transcriber holds the decoded call in memory (~0.5 GB per channel at 16 kHz).
AUDIO_MAX_DURATION_S = 2 * 3600.0
# A compressed file whose decoded length falls short of what its container declares by more
# than this share (and at least half a second) is truncated.
AUDIO_TRUNCATION_TOLERANCE = 0.05


def date_in_window(value: datetime, now: datetime) -> bool:
    """True when ``value`` (aware) lies in [EARLIEST_CALL, now + MAX_FUTURE]."""
    return EARLIEST_CALL <= value <= now + MAX_FUTURE
