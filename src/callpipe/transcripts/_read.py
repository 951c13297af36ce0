"""Bytes → ParsedTranscript: which of the formats it is (by content; the file name only helps)."""

from __future__ import annotations

import json
from typing import Any, Literal

from callpipe.transcripts._aws import is_aws_transcribe, parse_aws_transcribe
from callpipe.transcripts._common import MAX_TRANSCRIPT_BYTES, ParsedTranscript, TranscriptFormatError
from callpipe.transcripts._deepgram import is_deepgram, parse_deepgram
from callpipe.transcripts._own import is_own, parse_own
from callpipe.transcripts._text import parse_text

__all__ = ["TRANSCRIPT_FORMATS", "TranscriptFormat", "read_transcript"]

TranscriptFormat = Literal["callpipe", "aws-transcribe", "deepgram", "text"]
TRANSCRIPT_FORMATS: tuple[TranscriptFormat, ...] = ("callpipe", "aws-transcribe", "deepgram", "text")


def _json_format(doc: Any) -> TranscriptFormat:
    if is_aws_transcribe(doc):
        return "aws-transcribe"
    if is_deepgram(doc):
        return "deepgram"
    if is_own(doc):
        return "callpipe"
    keys = sorted(doc)[:8] if isinstance(doc, dict) else type(doc).__name__
    raise TranscriptFormatError(
        f"JSON is not a transcript callpipe knows (callpipe utterances, Amazon Transcribe results.items, "
        f"Deepgram results.channels); top-level: {keys}"
    )


def read_transcript(data: bytes, fmt: TranscriptFormat | None = None) -> ParsedTranscript:
    """Parse ``data``; raises TranscriptFormatError with the reason for anything unreadable."""
    if len(data) > MAX_TRANSCRIPT_BYTES:
        raise TranscriptFormatError(f"transcript larger than {MAX_TRANSCRIPT_BYTES} bytes")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TranscriptFormatError(f"transcript is not UTF-8 text: {exc}") from None
    if "\x00" in text:
        raise TranscriptFormatError("transcript contains NUL bytes (binary data, not text)")
    stripped = text.lstrip()
    # Every JSON format is an object; "[" starts a timestamped text line.
    if fmt == "text" or (fmt is None and not stripped.startswith("{")):
        parsed = parse_text(text)
    else:
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise TranscriptFormatError(f"transcript is not valid JSON: {exc}") from None
        found = _json_format(doc)
        if fmt is not None and fmt != found:
            raise TranscriptFormatError(f"format {fmt!r} was named, but the content is {found!r}")
        parser = {"aws-transcribe": parse_aws_transcribe, "deepgram": parse_deepgram, "callpipe": parse_own}
        parsed = parser[found](doc)
    if not any(u.text.strip() for u in parsed.utterances):
        raise TranscriptFormatError(f"the {parsed.format} transcript has no spoken words")
    return parsed
