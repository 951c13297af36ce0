"""The transcript input path for benchmarks and evals: file / bytes / dict → ``TranscriptReady`` →
``AnalysisRequest``, through the same parsers as ``callpipe analyze --transcript`` and ingest's
``POST /transcripts`` (:mod:`callpipe.transcripts`), so a figure measured here is measured on what
a user's transcript file becomes.

    event = transcript_input({"utterances": [{"role": "agent", "text": "Acme."}, …]}, call_id="c1")
    request = analysis_request(event, ports)   # what the analyzer engine is given
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

from callpipe.models import RecordingSource, Role, TranscriptReady
from callpipe.transcripts import TranscriptFormat, read_transcript, transcript_event, transcript_sha256

__all__ = ["analysis_request", "transcript_input"]


def transcript_input(
    source: Path | bytes | dict[str, Any],
    *,
    call_id: str | None = None,
    fmt: TranscriptFormat | None = None,
    speakers: dict[str, Role] | None = None,
) -> TranscriptReady:
    """A transcript file, its bytes, or a parsed JSON document → the event ingest would publish."""
    if isinstance(source, Path):
        data = source.read_bytes()
    elif isinstance(source, dict):
        data = json.dumps(source, ensure_ascii=False).encode()
    else:
        data = source
    sha = transcript_sha256(data)
    return transcript_event(
        read_transcript(data, fmt),
        sha,
        call_id=call_id,
        source=RecordingSource.IMPORT,
        speaker_roles=speakers,
    )


def analysis_request(event: TranscriptReady, ports: Any) -> Any:
    """The ``AnalysisRequest`` the analyze stage builds for ``event`` (redacted turns, sentiments)."""
    stage = importlib.import_module("callpipe_analyzer.stage")
    ports_mod = importlib.import_module("callpipe_analyzer.ports")
    redaction, sentiments = stage.prepare(event.utterances, ports.redactor, ports.sentiment)
    return ports_mod.AnalysisRequest(
        call_id=event.call_id, utterances=redaction.utterances, sentiments=sentiments, language=event.language
    )
