"""Plain speaker-labelled text: one turn per line, ``Agent: …`` / ``Customer: …``, optionally
``[mm:ss]`` or ``[hh:mm:ss]`` first. Lines without a label continue the turn before. Without
timestamps, times are estimated from the words (2.6 words/s, 0.4 s between turns).
"""

from __future__ import annotations

import re

from callpipe.models import Role, Utterance
from callpipe.transcripts._common import ParsedTranscript, TranscriptFormatError

__all__ = ["ROLE_LABELS", "parse_text"]

# Speaker labels and the party they name; matched case-insensitively before the colon.
ROLE_LABELS: dict[str, Role] = {
    "agent": Role.AGENT,
    "representative": Role.AGENT,
    "rep": Role.AGENT,
    "operator": Role.AGENT,
    "support": Role.AGENT,
    "customer": Role.CALLER,
    "caller": Role.CALLER,
    "client": Role.CALLER,
    "user": Role.CALLER,
}
_WORDS_PER_SECOND = 2.6
_GAP_S = 0.4
_LINE = re.compile(
    r"^\s*(?:\[(?:(?P<h>\d{1,2}):)?(?P<m>\d{1,3}):(?P<s>\d{2}(?:\.\d+)?)\]\s*)?"
    r"(?P<label>[A-Za-z][\w .'-]{0,40}?)\s*:\s*(?P<text>.*)$"
)


def _seconds(match: re.Match[str]) -> float | None:
    if match.group("m") is None:
        return None
    return int(match.group("h") or 0) * 3600 + int(match.group("m")) * 60 + float(match.group("s"))


def parse_text(text: str) -> ParsedTranscript:
    rows: list[tuple[Role, str, float | None, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        match = _LINE.match(line)
        role = ROLE_LABELS.get(match.group("label").strip().lower()) if match else None
        if match is None or role is None:
            if not rows:
                raise TranscriptFormatError(
                    f"line {number}: expected 'Agent: …' or 'Customer: …' (labels: {', '.join(ROLE_LABELS)})"
                )
            last_role, label, start, said = rows[-1]
            rows[-1] = (last_role, label, start, f"{said} {line.strip()}")
            continue
        rows.append(
            (role, match.group("label").strip().lower(), _seconds(match), match.group("text").strip())
        )
    rows = [r for r in rows if r[3]]
    if not rows:
        raise TranscriptFormatError("no speaker-labelled line with text")
    stamped = [r[2] for r in rows if r[2] is not None]
    if stamped and len(stamped) != len(rows):
        raise TranscriptFormatError("either every line has a [mm:ss] timestamp or none has")
    if stamped != sorted(stamped):
        raise TranscriptFormatError("timestamps go backwards")
    utterances: list[Utterance] = []
    clock = 0.0
    for i, (role, label, start, said) in enumerate(rows):
        estimated = max(0.6, len(said.split()) / _WORDS_PER_SECOND)
        if start is None:
            start, end = clock, clock + estimated
            clock = end + _GAP_S
        else:
            following = rows[i + 1][2] if i + 1 < len(rows) else None
            end = min(start + estimated, following) if following is not None else start + estimated
            end = max(end, start + 0.1)
        utterances.append(
            Utterance(
                role=role,
                speaker=label,
                channel=None,
                start_s=round(start, 3),
                end_s=round(end, 3),
                text=said,
            )
        )
    return ParsedTranscript(
        format="text",
        engine="text",
        model="speaker-labelled-text",
        utterances=utterances,
        roles_given=True,
        notes=[] if stamped else ["timings_estimated"],
    )
