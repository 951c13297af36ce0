"""Amazon Transcribe batch output (``results.transcripts`` / ``items`` / ``speaker_labels`` or
``channel_labels``), as in the Transcribe developer guide's diarization and channel-identification
examples. Times are strings there; punctuation items carry no time and attach to the word before.
"""

from __future__ import annotations

from typing import Any

from callpipe.transcripts._common import ParsedTranscript, TimedWord, TranscriptFormatError, turns_from_words

__all__ = ["is_aws_transcribe", "parse_aws_transcribe"]


def is_aws_transcribe(doc: Any) -> bool:
    results = doc.get("results") if isinstance(doc, dict) else None
    return isinstance(results, dict) and "transcripts" in results and "items" in results


def _seconds(item: dict[str, Any], key: str) -> float:
    try:
        return float(item[key])
    except (KeyError, TypeError, ValueError):
        raise TranscriptFormatError(
            f"Amazon Transcribe item without a numeric {key}: {item!r:.120}"
        ) from None


def _content(item: dict[str, Any]) -> tuple[str, float | None]:
    alternatives = item.get("alternatives")
    if not isinstance(alternatives, list) or not alternatives or not isinstance(alternatives[0], dict):
        raise TranscriptFormatError(f"Amazon Transcribe item without alternatives: {item!r:.120}")
    best = alternatives[0]
    content = best.get("content")
    if not isinstance(content, str):
        raise TranscriptFormatError(f"Amazon Transcribe item without content: {item!r:.120}")
    try:
        confidence = float(best["confidence"]) if best.get("confidence") not in (None, "") else None
    except (TypeError, ValueError):
        confidence = None
    return content, confidence


def _speaker_by_start(results: dict[str, Any]) -> dict[str, str]:
    """Older outputs name the speaker only in speaker_labels.segments[].items, keyed by start_time."""
    labels = results.get("speaker_labels")
    found: dict[str, str] = {}
    if isinstance(labels, dict):
        for segment in labels.get("segments") or []:
            for item in segment.get("items") or []:
                if "start_time" in item and "speaker_label" in item:
                    found[str(item["start_time"])] = str(item["speaker_label"])
    return found


def _words(
    items: list[Any], speakers: dict[str, str], channel: int | None, channel_label: str | None
) -> list[TimedWord]:
    words: list[TimedWord] = []
    for item in items:
        if not isinstance(item, dict):
            raise TranscriptFormatError("Amazon Transcribe items must be objects")
        content, confidence = _content(item)
        if item.get("type") == "punctuation":
            if words:
                last = words[-1]
                words[-1] = TimedWord(
                    last.text + content, last.start_s, last.end_s, last.speaker, last.channel, last.confidence
                )
            continue
        start, end = _seconds(item, "start_time"), _seconds(item, "end_time")
        item_channel = channel
        label = item.get("channel_label") or channel_label
        if item_channel is None and isinstance(label, str) and label.startswith("ch_"):
            item_channel = int(label[3:]) if label[3:].isdigit() else None
        speaker = item.get("speaker_label") or speakers.get(str(item["start_time"]))
        if speaker is None:
            speaker = f"ch{item_channel}" if item_channel is not None else "spk_0"
        words.append(TimedWord(content, start, end, str(speaker), item_channel, confidence))
    return words


def parse_aws_transcribe(doc: dict[str, Any]) -> ParsedTranscript:
    results = doc["results"]
    speakers = _speaker_by_start(results)
    channel_labels = results.get("channel_labels")
    words: list[TimedWord] = []
    channel_count = 1
    channels = channel_labels.get("channels") if isinstance(channel_labels, dict) else None
    if isinstance(channels, list) and channels:
        # Channel identification: each channel lists its own items.
        channel_count = int(channel_labels.get("number_of_channels") or len(channels))
        for entry in channels:
            label = str(entry.get("channel_label", ""))
            index = int(label[3:]) if label.startswith("ch_") and label[3:].isdigit() else None
            if index is None:
                raise TranscriptFormatError(f"Amazon Transcribe channel_label {label!r} is not ch_N")
            words += _words(entry.get("items") or [], speakers, index, label)
    else:
        items = results.get("items")
        if not isinstance(items, list):
            raise TranscriptFormatError("Amazon Transcribe results.items must be a list")
        words = _words(items, speakers, None, None)
        if any(w.channel is not None for w in words):
            channel_count = max(w.channel or 0 for w in words) + 1
    language = results.get("language_code") or doc.get("language_code")
    return ParsedTranscript(
        format="aws-transcribe",
        engine="aws-transcribe",
        model="aws-transcribe",
        utterances=turns_from_words(words),
        channel_count=channel_count,
        language=str(language).split("-")[0].lower() if language else None,
    )
