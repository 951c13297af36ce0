"""``callpipe analyze FILE… [--channels caller,agent]``: transcribe and analyze local audio, no Kafka.

With ``--transcript`` the files are existing transcripts instead (analyze_transcripts.py).

Runs the transcriber's and the analyzer's stage functions in-process (the same code the services
run) and prints one JSON object per call on stdout: call_id, utterances (role, start, end, text;
redacted) and the analysis with the model's field names. Errors for one file are printed to
stderr and the other files are still processed; the exit status is 1 if any file failed.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from callpipe.errors import CallpipeError
from callpipe.models import CallMetadata, ChannelRole, RecordingReady, RecordingSource, Role
from callpipe.settings import RecordingStoreSettings
from callpipe.store import open_recording_store
from callpipe.transcripts import TRANSCRIPT_FORMATS
from callpipe_analyzer.settings import AnalyzerSettings
from callpipe_analyzer.stage import analyze
from callpipe_analyzer.wiring import build_ports
from callpipe_cli.analyze_transcripts import parse_speakers, run_transcripts
from callpipe_transcriber.engines.factory import build_engine
from callpipe_transcriber.fetch import AudioFetcher, FetchOptions
from callpipe_transcriber.settings import TranscriberSettings
from callpipe_transcriber.stage import TranscriberPorts, transcribe

__all__ = ["main", "parse_channels"]


def parse_channels(value: str) -> list[ChannelRole]:
    """'caller,agent' → channel 0 caller, channel 1 agent (Twilio dual-channel order)."""
    roles = [part.strip().lower() for part in value.split(",") if part.strip()]
    try:
        return [ChannelRole(channel=i, role=Role(r)) for i, r in enumerate(roles)]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"--channels takes roles caller/agent/unknown, got {value!r}"
        ) from exc


def _call_output(result: Any) -> dict[str, Any]:
    return {
        "call_id": result.call_id,
        "status": result.status.value,
        "language": result.language,
        "utterances": [
            {"role": u.role.value, "start": u.start_s, "end": u.end_s, "text": u.text}
            for u in result.utterances
        ],
        "analysis": result.analysis.model_dump(mode="json") if result.analysis else None,
        "metrics": result.metrics.model_dump(mode="json"),
        "redaction": result.redaction.model_dump(mode="json"),
        "flags": result.flags,
        "analyzer": result.analyzer,
        "model": result.model,
    }


async def _run(files: list[Path], channels: list[ChannelRole]) -> int:
    failures = 0
    t_settings = TranscriberSettings()
    a_settings = AnalyzerSettings()
    with tempfile.TemporaryDirectory(prefix="callpipe-analyze-") as tmp:
        store = open_recording_store(RecordingStoreSettings(url=f"file://{tmp}"))
        async with httpx.AsyncClient(timeout=60.0) as http:
            engine = build_engine(t_settings, http)
            t_ports = TranscriberPorts(
                fetcher=AudioFetcher(http, store, FetchOptions()),
                store=store,
                engine=engine,
                language=t_settings.language,
            )
            a_ports = build_ports(a_settings, http_client=http)
            for path in files:
                try:
                    data = path.read_bytes()
                except OSError as exc:
                    print(f"callpipe analyze: {path}: {exc}", file=sys.stderr)
                    failures += 1
                    continue
                digest = hashlib.sha256(data).hexdigest()
                # The transcriber reads file:// audio only from inside the recording store.
                uri = await store.put_file(f"{digest[:16]}{path.suffix.lower()}", path)
                event = RecordingReady(
                    call_id=f"local-{path.stem}-{digest[:8]}",
                    recording_id=digest,
                    source=RecordingSource.UPLOAD,
                    audio_uri=uri,
                    audio_sha256=digest,
                    channel_count=len(channels),
                    channel_roles=channels,
                    metadata=CallMetadata(),
                    received_at=datetime.now(UTC),
                )
                try:
                    transcript = await transcribe(event, t_ports)
                    result = await analyze(transcript, a_ports)
                except CallpipeError as exc:
                    print(f"callpipe analyze: {path}: {exc.reason}", file=sys.stderr)
                    failures += 1
                    continue
                print(json.dumps(_call_output(result), ensure_ascii=False), flush=True)
            await engine.aclose()
        await store.aclose()
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="callpipe analyze", description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE")
    parser.add_argument(
        "--channels",
        type=parse_channels,
        default=parse_channels("caller,agent"),
        help="channel-to-role map, default 'caller,agent' (caller on the first channel)",
    )
    parser.add_argument(
        "--transcript",
        action="store_true",
        help="the files are transcripts (callpipe JSON, Amazon Transcribe or Deepgram JSON, "
        "'Agent: …' / 'Customer: …' text), analyzed without speech-to-text",
    )
    parser.add_argument("--format", choices=TRANSCRIPT_FORMATS, help="with --transcript: the format")
    parser.add_argument(
        "--speakers",
        type=_speakers,
        help="with --transcript: speaker label to role, e.g. 'spk_0=agent,spk_1=caller' "
        "(default: channels as --channels, else the first speaker is the agent, flagged low confidence)",
    )
    args = parser.parse_args(argv)
    if args.transcript:
        return asyncio.run(
            run_transcripts(
                args.files, _call_output, fmt=args.format, channels=args.channels, speakers=args.speakers
            )
        )
    return asyncio.run(_run(args.files, args.channels))


def _speakers(value: str) -> dict[str, Role]:
    try:
        return parse_speakers(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
