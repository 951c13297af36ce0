"""``callpipe analyze --transcript FILE…``: analyze existing transcripts, no speech-to-text.

Reads each file with :mod:`callpipe.transcripts` (callpipe JSON, Amazon Transcribe JSON, Deepgram
JSON, or ``Agent:`` / ``Customer:`` text), builds the ``TranscriptReady`` ingest would publish
and runs the analyzer's stage function on it. Output is the same one JSON object per call as for
audio. A file that is not a readable transcript is reported with the reason on stderr.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import httpx

from callpipe.errors import CallpipeError
from callpipe.models import ChannelRole, RecordingSource, Role, TranscriptReady
from callpipe.transcripts import TranscriptFormat, read_transcript, transcript_event, transcript_sha256

__all__ = ["parse_speakers", "run_transcripts", "transcript_file_event"]


def parse_speakers(value: str) -> dict[str, Role]:
    """'spk_0=agent,spk_1=caller' → {speaker label: role}."""
    mapping: dict[str, Role] = {}
    for part in filter(None, (p.strip() for p in value.split(","))):
        label, _, role = part.partition("=")
        try:
            mapping[label.strip()] = Role(role.strip().lower())
        except ValueError:
            raise ValueError(f"--speakers takes LABEL=caller|agent pairs, got {part!r}") from None
    return mapping


def transcript_file_event(
    path: Path,
    *,
    fmt: TranscriptFormat | None = None,
    channels: list[ChannelRole] | None = None,
    speakers: dict[str, Role] | None = None,
) -> TranscriptReady:
    data = path.read_bytes()
    sha = transcript_sha256(data)
    return transcript_event(
        read_transcript(data, fmt),
        sha,
        call_id=f"local-{path.stem}-{sha[:8]}",
        source=RecordingSource.UPLOAD,
        channel_roles=channels,
        speaker_roles=speakers,
    )


async def run_transcripts(
    files: list[Path],
    output: Any,
    *,
    fmt: TranscriptFormat | None,
    channels: list[ChannelRole] | None,
    speakers: dict[str, Role] | None,
) -> int:
    # Imported here: the analyzer extra is needed for this path only.
    from callpipe_analyzer.settings import AnalyzerSettings
    from callpipe_analyzer.stage import analyze
    from callpipe_analyzer.wiring import build_ports

    failures = 0
    async with httpx.AsyncClient(timeout=60.0) as http:
        ports = build_ports(AnalyzerSettings(), http_client=http)
        for path in files:
            try:
                event = transcript_file_event(path, fmt=fmt, channels=channels, speakers=speakers)
                result = await analyze(event, ports)
            except OSError as exc:
                print(f"callpipe analyze: {path}: {exc}", file=sys.stderr)
                failures += 1
                continue
            except CallpipeError as exc:
                print(f"callpipe analyze: {path}: {exc.reason}", file=sys.stderr)
                failures += 1
                continue
            print(json.dumps(output(result), ensure_ascii=False), flush=True)
    return 1 if failures else 0
