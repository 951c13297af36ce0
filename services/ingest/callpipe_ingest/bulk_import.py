"""``callpipe import PATH…``: backfill existing recordings, safe to re-run.

``callpipe import --transcripts PATH…`` backfills existing transcripts instead (.json / .txt:
callpipe JSON, Amazon Transcribe, Deepgram, ``Agent:`` text), published as TranscriptReady without
speech-to-text; the same metadata rules apply (``call.json`` → ``call.json.json`` sidecar).

Metadata per file, first match wins:

1. a sidecar ``<file>.json`` next to it (``call.wav`` → ``call.wav.json``) holding the same JSON
   object as the upload API's ``metadata`` (call_id, channel_roles, agent_id, queue, started_at…);
2. the filename convention ``key=value`` segments joined by ``__``, e.g.
   ``call=8731__agent=alice__queue=billing__start=2024-01-05T10:15:00Z__roles=caller-agent.wav``
   (keys: call, agent, queue, start, from, to, dir, roles);
3. nothing: the call id is derived from the content hash.

Every file is sniffed, hashed, stored and published exactly like an upload; the content hash is
the idempotency id, so a re-run skips what was published. The summary lists published, skipped
(already imported) and rejected files with their reason. Exit status: 0 all fine, 1 some files
rejected, 2 the broker or store is unavailable (re-run to resume).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from tqdm import tqdm

from callpipe.avro import AvroSerde, registry_from_settings
from callpipe.errors import CallpipeError, DependencyUnavailableError, InvalidInputError, TransientError
from callpipe.models import RecordingReady, RecordingSource
from callpipe.store import RecordingStore
from callpipe_ingest.intake import RecordingMetadata, ingest_file
from callpipe_ingest.ledger import Ledger
from callpipe_ingest.publisher import EventSender, Publisher
from callpipe_ingest.settings import IngestSettings
from callpipe_ingest.transcript_intake import TRANSCRIPT_SUFFIXES, TranscriptPublisher, ingest_transcript_file

__all__ = ["ImportSummary", "import_paths", "main", "metadata_for"]

_AUDIO_SUFFIXES = {".wav", ".mp3", ".flac", ".ogg", ".opus", ".oga"}
# The upload API's default limit; the CLI passes the configured INGEST_MAX_UPLOAD_BYTES.
_DEFAULT_MAX_AUDIO_BYTES: int = IngestSettings.model_fields["max_upload_bytes"].default
_FILENAME_KEYS = {"call": "call_id", "agent": "agent_id", "queue": "queue", "start": "started_at",
                  "from": "from_number", "to": "to_number", "dir": "direction"}  # fmt: skip


@dataclass
class ImportSummary:
    published: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    rejected: list[tuple[Path, str]] = field(default_factory=list)

    def render(self) -> str:
        lines = [
            f"published: {len(self.published)}",
            f"skipped (already imported): {len(self.skipped)}",
            f"rejected: {len(self.rejected)}",
        ]
        lines += [f"  {path}: {reason}" for path, reason in self.rejected]
        return "\n".join(lines)


def metadata_for(path: Path) -> RecordingMetadata:
    """Sidecar JSON, else the ``key=value__…`` filename convention, else empty metadata."""
    sidecar = path.with_name(path.name + ".json")
    if sidecar.is_file():
        try:
            return RecordingMetadata.model_validate_json(sidecar.read_bytes())
        except ValidationError as exc:
            raise InvalidInputError(f"sidecar {sidecar.name}: {_errors(exc)}") from None
    values: dict[str, Any] = {}
    for segment in path.stem.split("__"):
        key, sep, value = segment.partition("=")
        if not sep:
            continue
        if key == "roles":
            values["channel_roles"] = value.split("-")
        elif key in _FILENAME_KEYS:
            values[_FILENAME_KEYS[key]] = value
    try:
        return RecordingMetadata.model_validate(values)
    except ValidationError as exc:
        raise InvalidInputError(f"filename metadata: {_errors(exc)}") from None


def _errors(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())


def _candidates(paths: Sequence[Path], suffixes: Collection[str] = _AUDIO_SUFFIXES) -> Iterator[Path]:
    for root in paths:
        if root.is_dir():
            yield from sorted(
                p
                for p in root.rglob("*")
                if p.is_file() and p.suffix.lower() in suffixes and not p.name.endswith(".json.json")
            )
        else:
            yield root


async def import_paths(
    paths: Sequence[Path],
    publisher: Publisher | TranscriptPublisher,
    store: RecordingStore,
    *,
    progress: bool = True,
    max_audio_bytes: int = _DEFAULT_MAX_AUDIO_BYTES,
) -> ImportSummary:
    """Import every audio file (or, with a TranscriptPublisher, every transcript) under ``paths``.
    Audio files over ``max_audio_bytes`` are rejected like an upload over the limit.
    DependencyUnavailableError stops the run."""
    transcripts = isinstance(publisher, TranscriptPublisher)
    files = list(_candidates(paths, TRANSCRIPT_SUFFIXES if transcripts else _AUDIO_SUFFIXES))
    summary = ImportSummary()
    with tqdm(total=len(files), unit="file", disable=not progress, file=sys.stderr) as bar:
        for path in files:
            bar.set_postfix_str(path.name[-40:], refresh=False)
            try:
                if not path.is_file():
                    raise InvalidInputError("not a file")
                meta = metadata_for(path)
                if isinstance(publisher, TranscriptPublisher):
                    outcome = await ingest_transcript_file(publisher, path, meta, RecordingSource.IMPORT)
                else:
                    outcome = await ingest_file(
                        publisher, store, path, meta, RecordingSource.IMPORT, max_bytes=max_audio_bytes
                    )
            except (DependencyUnavailableError, TransientError):
                raise
            except CallpipeError as exc:
                summary.rejected.append((path, exc.message))
            except OSError as exc:
                summary.rejected.append((path, f"cannot read: {exc.strerror or exc}"))
            else:
                (summary.published if outcome.published else summary.skipped).append(path)
            bar.update(1)
    return summary


async def _run(args: argparse.Namespace, settings: IngestSettings, producer: EventSender) -> int:
    from callpipe.store import open_recording_store

    store = open_recording_store(settings.recording_store)
    registry = registry_from_settings(settings.schema_registry)
    serde = AvroSerde(RecordingReady, registry, f"{settings.topics.recordings}-value")
    publisher: Publisher | TranscriptPublisher = Publisher(
        producer, serde, settings.topics, Ledger(store), timeout_s=settings.publish_timeout_s
    )
    if args.transcripts:
        publisher = TranscriptPublisher(
            producer, registry, settings.topics, Ledger(store), timeout_s=settings.publish_timeout_s
        )
    try:
        summary = await import_paths(
            args.paths,
            publisher,
            store,
            progress=not args.no_progress,
            max_audio_bytes=settings.max_upload_bytes,
        )
    except (DependencyUnavailableError, TransientError) as exc:
        print(f"stopped: {exc.message}. Re-run the same command to resume.", file=sys.stderr)
        return 2
    finally:
        await store.aclose()
    print(summary.render())
    if args.json:
        print(json.dumps({"published": len(summary.published), "skipped": len(summary.skipped),
                          "rejected": [[str(p), r] for p, r in summary.rejected]}))  # fmt: skip
    return 1 if summary.rejected else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="callpipe import", description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", type=Path, help="audio files or folders (searched recursively)")
    parser.add_argument(
        "--transcripts",
        action="store_true",
        help="the paths hold transcripts (.json/.txt), published without speech-to-text",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--json", action="store_true", help="also print the summary as one JSON line")
    args = parser.parse_args(argv)

    from callpipe.kafka import EventProducer, ensure_topics
    from callpipe.observability import configure_logging

    configure_logging("import", level="WARNING")
    settings = IngestSettings()  # entry point: the environment is read here
    try:
        topic = settings.topics.transcripts if args.transcripts else settings.topics.recordings
        ensure_topics(settings.kafka, [topic], timeout_s=15)
    except DependencyUnavailableError as exc:
        print(f"Kafka unavailable: {exc.message}", file=sys.stderr)
        return 2
    producer = EventProducer(settings.kafka, delivery_timeout_s=settings.delivery_timeout_s)
    try:
        return asyncio.run(_run(args, settings, producer))
    finally:
        producer.close()
