"""What every transcript parser returns, and the pieces they share (words → turns)."""

from __future__ import annotations

from dataclasses import dataclass, field

from callpipe.errors import InvalidInputError
from callpipe.models import Role, Utterance, Word

__all__ = [
    "MAX_TRANSCRIPT_BYTES",
    "ParsedTranscript",
    "TimedWord",
    "TranscriptFormatError",
    "turns_from_words",
]

# A 4-hour call at ~3 words/s with word timings is ~5 MB of JSON; anything far bigger is not a call.
MAX_TRANSCRIPT_BYTES = 20 * 1024 * 1024
# A speaker's words further apart than this start a new turn (a pause, or the other party between).
_TURN_GAP_S = 1.5


class TranscriptFormatError(InvalidInputError):
    """The bytes are not a transcript callpipe can read; the message says why (-> 4xx, never kept)."""


@dataclass(frozen=True, slots=True)
class TimedWord:
    text: str
    start_s: float
    end_s: float
    speaker: str
    channel: int | None = None
    confidence: float | None = None


@dataclass(frozen=True)
class ParsedTranscript:
    """Turns as read from the file; roles may still be unknown (``roles`` in _roles.py decides)."""

    format: str
    engine: str
    model: str
    utterances: list[Utterance]
    channel_count: int = 1
    language: str | None = None
    duration_s: float | None = None
    # True when the file stated the roles (own JSON, "Agent:" lines): nothing is guessed then.
    roles_given: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def audio_duration_s(self) -> float:
        ends = [u.end_s for u in self.utterances]
        return max([self.duration_s or 0.0, *ends])


def turns_from_words(words: list[TimedWord]) -> list[Utterance]:
    """Consecutive words of one speaker (and channel) form a turn; a long pause splits it."""
    ordered = sorted(words, key=lambda w: (w.start_s, w.end_s))
    turns: list[list[TimedWord]] = []
    for word in ordered:
        last = turns[-1][-1] if turns else None
        same = last is not None and (last.speaker, last.channel) == (word.speaker, word.channel)
        if same and last is not None and word.start_s - last.end_s <= _TURN_GAP_S:
            turns[-1].append(word)
        else:
            turns.append([word])
    out: list[Utterance] = []
    for turn in turns:
        confidences = [w.confidence for w in turn if w.confidence is not None]
        out.append(
            Utterance(
                role=Role.UNKNOWN,
                speaker=turn[0].speaker,
                channel=turn[0].channel,
                start_s=turn[0].start_s,
                end_s=max(w.end_s for w in turn),
                text=" ".join(w.text for w in turn),
                confidence=sum(confidences) / len(confidences) if confidences else None,
                words=[
                    Word(word=w.text, start_s=w.start_s, end_s=w.end_s, confidence=w.confidence) for w in turn
                ],
            )
        )
    return out
