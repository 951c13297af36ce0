"""Deepgram pre-recorded (``/v1/listen``) response JSON: ``results.utterances[]`` when present
(``utterances=true``), else the words of ``results.channels[].alternatives[0]`` grouped into turns
by ``speaker`` (diarized) or by channel (``multichannel=true``).
"""

from __future__ import annotations

from typing import Any

from callpipe.models import Role, Utterance, Word
from callpipe.transcripts._common import ParsedTranscript, TimedWord, TranscriptFormatError, turns_from_words

__all__ = ["is_deepgram", "parse_deepgram"]


def is_deepgram(doc: Any) -> bool:
    results = doc.get("results") if isinstance(doc, dict) else None
    return isinstance(results, dict) and isinstance(results.get("channels"), list)


def _float(value: Any, what: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TranscriptFormatError(f"Deepgram {what} is not a number: {value!r:.60}") from None


def _word_text(word: dict[str, Any]) -> str:
    text = word.get("punctuated_word") or word.get("word")
    if not isinstance(text, str):
        raise TranscriptFormatError(f"Deepgram word without text: {word!r:.120}")
    return text


def _speaker(speaker: Any, channel: int, multichannel: bool) -> str:
    if speaker is not None:
        return f"spk{int(speaker)}" if not multichannel else f"ch{channel}-spk{int(speaker)}"
    return f"ch{channel}"


def _from_utterances(raw: list[Any], multichannel: bool) -> list[Utterance]:
    out: list[Utterance] = []
    for u in raw:
        if not isinstance(u, dict):
            raise TranscriptFormatError("Deepgram utterances must be objects")
        channel = int(u.get("channel") or 0)
        words = [
            Word(
                word=_word_text(w),
                start_s=_float(w.get("start"), "word start"),
                end_s=_float(w.get("end"), "word end"),
                confidence=w.get("confidence"),
            )
            for w in u.get("words") or []
        ]
        text = u.get("transcript")
        if not isinstance(text, str):
            raise TranscriptFormatError("Deepgram utterance without transcript")
        out.append(
            Utterance(
                role=Role.UNKNOWN,
                speaker=_speaker(u.get("speaker"), channel, multichannel),
                channel=channel if multichannel else None,
                start_s=_float(u.get("start"), "utterance start"),
                end_s=_float(u.get("end"), "utterance end"),
                text=text,
                confidence=u.get("confidence"),
                words=words or None,
            )
        )
    return sorted(out, key=lambda u: (u.start_s, u.end_s))


def parse_deepgram(doc: dict[str, Any]) -> ParsedTranscript:
    results = doc["results"]
    raw_metadata = doc.get("metadata")
    metadata: dict[str, Any] = raw_metadata if isinstance(raw_metadata, dict) else {}
    channels = results["channels"]
    multichannel = len(channels) > 1
    language: str | None = None
    if isinstance(results.get("utterances"), list) and results["utterances"]:
        utterances = _from_utterances(results["utterances"], multichannel)
    else:
        words: list[TimedWord] = []
        for index, channel in enumerate(channels):
            alternatives = channel.get("alternatives") if isinstance(channel, dict) else None
            if not isinstance(alternatives, list) or not alternatives:
                raise TranscriptFormatError(f"Deepgram results.channels[{index}] has no alternatives")
            for w in alternatives[0].get("words") or []:
                words.append(
                    TimedWord(
                        _word_text(w),
                        _float(w.get("start"), "word start"),
                        _float(w.get("end"), "word end"),
                        _speaker(w.get("speaker"), index, multichannel),
                        index if multichannel else None,
                        w.get("confidence"),
                    )
                )
        utterances = turns_from_words(words)
    for channel in channels:
        if isinstance(channel, dict) and isinstance(channel.get("detected_language"), str):
            language = channel["detected_language"]
    raw_models, raw_info = metadata.get("models"), metadata.get("model_info")
    models: list[Any] = raw_models if isinstance(raw_models, list) else []
    info: dict[str, Any] = raw_info if isinstance(raw_info, dict) else {}
    names = [str(v.get("arch") or v.get("name")) for v in info.values() if isinstance(v, dict)]
    return ParsedTranscript(
        format="deepgram",
        engine="deepgram",
        model=(names or [str(m) for m in models] or ["deepgram"])[0],
        utterances=utterances,
        channel_count=int(metadata.get("channels") or len(channels)),
        language=language,
        duration_s=_float(metadata["duration"], "metadata.duration") if "duration" in metadata else None,
    )
