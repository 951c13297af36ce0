"""Conversation metrics computed from the transcript alone, for every call and every analyzer.

Talk, silence and overlap come from interval arithmetic over the utterances' start/end times;
an interruption is a turn that starts while another party is still speaking with at least
``INTERRUPT_MIN_REMAINING_S`` of their turn left (back-channel "mm-hmm" near the end of a turn is
ordinary turn-taking, not an interruption).

Mono calls: each utterance carries one voice, so talk-over shows only in the diarizer's
``overlaps``. A span that begins while one speaker holds the floor, followed within
``TALK_OVER_REPLY_S`` of its end by a turn of another speaker, counts as that speaker's
interruption (the voice already talking is the one talked over).
"""

from __future__ import annotations

from collections.abc import Sequence

from callpipe.models import CallMetrics, Role, RoleMetrics, Utterance

__all__ = ["INTERRUPT_MIN_REMAINING_S", "TALK_OVER_REPLY_S", "compute_metrics"]

INTERRUPT_MIN_REMAINING_S = 0.5
# How soon after a talk-over span the other voice's own turn must begin to be its interruption
# (the diarizer gives the overlapped moment to the dominant voice, so that turn may start late).
TALK_OVER_REPLY_S = 1.0

Interval = tuple[float, float]


def _union(intervals: Sequence[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _length(intervals: Sequence[Interval]) -> float:
    return sum(end - start for start, end in intervals)


def _intersection(a: Sequence[Interval], b: Sequence[Interval]) -> float:
    total = 0.0
    i = j = 0
    while i < len(a) and j < len(b):
        lo = max(a[i][0], b[j][0])
        hi = min(a[i][1], b[j][1])
        if hi > lo:
            total += hi - lo
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return total


def _monologues(utterances: Sequence[Utterance]) -> list[tuple[str, float]]:
    """Stretches where one speaker holds the floor: consecutive turns of one speaker."""
    out: list[tuple[str, float]] = []
    current: str | None = None
    start = end = 0.0
    for u in sorted(utterances, key=lambda u: u.start_s):
        if u.speaker == current:
            end = max(end, u.end_s)
            continue
        if current is not None:
            out.append((current, end - start))
        current, start, end = u.speaker, u.start_s, u.end_s
    if current is not None:
        out.append((current, end - start))
    return out


def _talk_over_interrupters(spoken: Sequence[Utterance], overlaps: Sequence[Interval]) -> dict[str, int]:
    """Per speaker, the talk-over spans they started over another speaker (mono calls)."""
    turns = sorted(spoken, key=lambda u: u.start_s)
    counts: dict[str, int] = {}
    for start, end in overlaps:
        holder = next((u for u in reversed(turns) if u.start_s < start), None)
        if holder is None:
            continue
        reply = next(
            (
                u
                for u in turns
                if u.speaker != holder.speaker and holder.start_s <= u.start_s <= end + TALK_OVER_REPLY_S
            ),
            None,
        )
        if reply is not None:
            counts[reply.speaker] = counts.get(reply.speaker, 0) + 1
    return counts


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def compute_metrics(
    utterances: Sequence[Utterance],
    duration_s: float,
    sentiments: Sequence[float | None] | None = None,
    overlaps: Sequence[tuple[float, float]] = (),
) -> CallMetrics:
    """Metrics of one call; ``sentiments`` aligns with ``utterances`` (per-utterance -1…1).

    ``overlaps`` are the diarizer's talk-over spans of a mono call (``TranscriptReady.overlaps``):
    there each utterance carries one voice, so the utterances' times cannot show talk-over and
    ``overlap_s`` is the larger of the two measures.
    """
    spoken = [u for u in utterances if u.text.strip()]
    last_end = max((u.end_s for u in spoken), default=0.0)
    duration = max(duration_s, last_end)
    all_talk = _union([(u.start_s, u.end_s) for u in spoken])
    talk = _length(all_talk)
    speakers = sorted({u.speaker for u in spoken})
    per_speaker = {s: _union([(u.start_s, u.end_s) for u in spoken if u.speaker == s]) for s in speakers}
    overlap = 0.0
    for i, a in enumerate(speakers):
        for b in speakers[i + 1 :]:
            overlap += _intersection(per_speaker[a], per_speaker[b])
    overlap = max(overlap, _length(_union(overlaps)))
    monologues = _monologues(spoken)
    talk_over = _talk_over_interrupters(spoken, overlaps)
    score_of = {id(u): s for u, s in zip(utterances, sentiments or [], strict=False)}

    roles: list[RoleMetrics] = []
    for role in (Role.CALLER, Role.AGENT, Role.UNKNOWN):
        mine = sorted((u for u in spoken if u.role is role), key=lambda u: u.start_s)
        if not mine:
            continue
        my_speakers = {u.speaker for u in mine}
        others = [u for u in spoken if u.speaker not in my_speakers]
        talk_role = _length(_union([(u.start_s, u.end_s) for u in mine]))
        words = sum(len(u.text.split()) for u in mine)
        interruptions = sum(
            1
            for u in mine
            if any(o.start_s < u.start_s < o.end_s - INTERRUPT_MIN_REMAINING_S for o in others)
        ) + sum(talk_over.get(speaker, 0) for speaker in my_speakers)
        scores = [s for u in mine if (s := score_of.get(id(u))) is not None]
        third = max(1, len(scores) // 3)
        roles.append(
            RoleMetrics(
                role=role,
                talk_time_s=round(talk_role, 3),
                talk_share=round(talk_role / duration, 4) if duration else 0.0,
                words=words,
                words_per_minute=round(words / (talk_role / 60.0), 1) if talk_role > 0 else 0.0,
                turns=len(mine),
                interruptions=interruptions,
                longest_monologue_s=round(
                    max((d for s, d in monologues if s in my_speakers), default=0.0), 3
                ),
                sentiment_start=_round(_mean(scores[:third])),
                sentiment_end=_round(_mean(scores[-third:])),
            )
        )
    silence = max(0.0, duration - talk)
    return CallMetrics(
        duration_s=round(duration, 3),
        talk_time_s=round(talk, 3),
        silence_s=round(silence, 3),
        silence_share=round(silence / duration, 4) if duration else 0.0,
        overlap_s=round(overlap, 3),
        turn_count=len(spoken),
        longest_monologue_s=round(max((d for _, d in monologues), default=0.0), 3),
        roles=roles,
    )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
