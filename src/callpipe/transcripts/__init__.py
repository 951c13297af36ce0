"""Existing transcripts as callpipe input, without speech-to-text.

Shared by the CLI (``callpipe analyze --transcript``), ingest (``POST /transcripts``, bulk import)
and the benchmarks, so all read a file the same way. Formats, one module each: callpipe's own JSON
(``_own``), Amazon Transcribe (``_aws``), Deepgram pre-recorded responses (``_deepgram``) and
speaker-labelled text (``_text``). ``read_transcript`` tells them apart by content and refuses
anything else with a :class:`TranscriptFormatError` naming the reason; ``transcript_event`` makes
the ``TranscriptReady`` the transcriber would have published.
"""

from callpipe.transcripts._common import MAX_TRANSCRIPT_BYTES, ParsedTranscript, TranscriptFormatError
from callpipe.transcripts._event import (
    DEFAULT_CHANNEL_ROLES,
    GUESSED_ROLE_CONFIDENCE,
    transcript_event,
    transcript_sha256,
)
from callpipe.transcripts._read import TRANSCRIPT_FORMATS, TranscriptFormat, read_transcript
from callpipe.transcripts._text import ROLE_LABELS

__all__ = [
    "DEFAULT_CHANNEL_ROLES",
    "GUESSED_ROLE_CONFIDENCE",
    "MAX_TRANSCRIPT_BYTES",
    "ROLE_LABELS",
    "TRANSCRIPT_FORMATS",
    "ParsedTranscript",
    "TranscriptFormat",
    "TranscriptFormatError",
    "read_transcript",
    "transcript_event",
    "transcript_sha256",
]
