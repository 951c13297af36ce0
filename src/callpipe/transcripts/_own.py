"""callpipe's own transcript JSON: a whole ``TranscriptReady`` (what the transcriber publishes,
e.g. saved from the topic), or just ``{"utterances": [{"role", "text", "start_s"?, "end_s"?, …}]}``
with optional ``language``, ``engine``, ``model``.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from callpipe.models import Role, TranscriptReady, Utterance
from callpipe.transcripts._common import ParsedTranscript, TranscriptFormatError

__all__ = ["is_own", "parse_own"]

_WORDS_PER_SECOND = 2.6
_GAP_S = 0.4


def is_own(doc: Any) -> bool:
    return isinstance(doc, dict) and isinstance(doc.get("utterances"), list)


def _errors(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])


def parse_own(doc: dict[str, Any]) -> ParsedTranscript:
    if "call_id" in doc and "metadata" in doc:
        try:
            event = TranscriptReady.model_validate(doc)
        except ValidationError as exc:
            raise TranscriptFormatError(f"not a valid TranscriptReady: {_errors(exc)}") from None
        return ParsedTranscript(
            format="callpipe",
            engine=event.engine,
            model=event.model,
            utterances=list(event.utterances),
            channel_count=event.channel_count,
            language=event.language,
            duration_s=event.audio_duration_s,
            roles_given=not event.roles_low_confidence,
        )
    utterances: list[Utterance] = []
    clock = 0.0
    estimated = False
    for i, raw in enumerate(doc["utterances"]):
        if not isinstance(raw, dict) or not isinstance(raw.get("text"), str):
            raise TranscriptFormatError(f"utterances[{i}] needs a text")
        item = dict(raw)
        if "start_s" not in item or "end_s" not in item:
            estimated = True
            length = max(0.6, len(item["text"].split()) / _WORDS_PER_SECOND)
            item.setdefault("start_s", clock)
            item.setdefault("end_s", item["start_s"] + length)
        item.setdefault("speaker", str(item.get("role", "unknown")))
        try:
            utterance = Utterance.model_validate(item)
        except ValidationError as exc:
            raise TranscriptFormatError(f"utterances[{i}]: {_errors(exc)}") from None
        clock = utterance.end_s + _GAP_S
        utterances.append(utterance)
    if not utterances:
        raise TranscriptFormatError("utterances is empty")
    return ParsedTranscript(
        format="callpipe",
        engine=str(doc.get("engine") or "callpipe-json"),
        model=str(doc.get("model") or "callpipe-json"),
        utterances=sorted(utterances, key=lambda u: u.start_s),
        channel_count=int(doc.get("channel_count") or 1),
        language=doc.get("language") if isinstance(doc.get("language"), str) else None,
        roles_given=all(u.role is not Role.UNKNOWN for u in utterances),
        notes=["timings_estimated"] if estimated else [],
    )
