"""Channel analysis before transcription, and bleed removal after it.

Real recordings do not always hold one party per channel:

- **Duplicate channels**: a mono recording stored as stereo (many recorders and exports do that)
  has two (near-)identical channels. Transcribed channel by channel it comes out twice, once per
  role. Channels whose waveforms correlate at ``duplicate_correlation`` or more are one signal:
  the call is handled as mono (diarized).
- **One party only**: a channel in which nobody is ever the loudest party (silent, or carrying
  only the other party's echo) holds no party of its own; only the active channel is transcribed
  and the recording is a single-speaker one.
- **Bleed**: on real two-party calls each channel also carries the other party's voice, lower
  (echo, crosstalk in the handset or the mixer). Whisper transcribes that leak as words of the
  wrong channel. After transcription, each word is kept only when its own channel is not clearly
  quieter than another channel over the word's span (``bleed_margin_db``): the other channel's
  transcript has those words, from the louder copy.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from callpipe.models import Word
from callpipe_transcriber.audio import DecodedAudio, speech_activity
from callpipe_transcriber.engines.base import EngineSegment

__all__ = ["ChannelLayout", "ChannelOptions", "ChannelPlan", "drop_bleed", "plan_channels"]

_FRAME_S = 0.02


class ChannelLayout(StrEnum):
    MONO = "mono"  # one channel recorded
    DUPLICATE = "duplicate"  # several channels carrying the same signal: treated as mono
    SINGLE_PARTY = "single_party"  # one channel holds speech of its own, the others silence/echo
    SEPARATE = "separate"  # one party per channel


@dataclass(frozen=True, slots=True)
class ChannelOptions:
    duplicate_correlation: float = 0.9
    # A channel is a party's when it is the loudest (by dominance_db) in this much speech.
    min_party_speech_s: float = 1.0
    min_party_share: float = 0.03
    dominance_db: float = 6.0
    bleed_margin_db: float = 3.0


@dataclass(frozen=True, slots=True)
class ChannelPlan:
    layout: ChannelLayout
    active: tuple[int, ...]  # channels that hold a party of their own


def _frame_db(samples: npt.NDArray[np.float32], rate: int) -> npt.NDArray[np.float64]:
    hop = max(1, int(_FRAME_S * rate))
    n = len(samples) // hop
    frames = samples[: n * hop].reshape(n, hop).astype(np.float64)
    db: npt.NDArray[np.float64] = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-10)
    return db


def _correlation(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> float:
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    a64 -= a64.mean()
    b64 -= b64.mean()
    denom = float(np.sqrt((a64 * a64).sum() * (b64 * b64).sum()))
    return float((a64 * b64).sum() / denom) if denom > 0 else 0.0


def plan_channels(audio: DecodedAudio, options: ChannelOptions | None = None) -> ChannelPlan:
    """Decide how the channels of ``audio`` are to be transcribed (see the module docstring)."""
    opts = options or ChannelOptions()
    count = audio.channel_count
    if count == 1:
        return ChannelPlan(ChannelLayout.MONO, (0,))
    if all(
        _correlation(audio.channel(0), audio.channel(c)) >= opts.duplicate_correlation
        for c in range(1, count)
    ):
        return ChannelPlan(ChannelLayout.DUPLICATE, (0,))
    db = np.stack([_frame_db(audio.channel(c), audio.sample_rate) for c in range(count)])
    active = np.stack([speech_activity(audio.channel(c), audio.sample_rate) for c in range(count)])
    n = min(db.shape[1], active.shape[1])
    db, active = db[:, :n], active[:, :n]
    wins = np.zeros(count)
    for c in range(count):
        others = np.delete(db, c, axis=0).max(axis=0)
        wins[c] = float((active[c] & (db[c] >= others + opts.dominance_db)).sum()) * _FRAME_S
    total = max(float(wins.sum()), 1e-9)
    parties = tuple(
        c
        for c in range(count)
        if wins[c] >= opts.min_party_speech_s and wins[c] / total >= opts.min_party_share
    )
    if len(parties) == 1:
        return ChannelPlan(ChannelLayout.SINGLE_PARTY, parties)
    if not parties:  # nobody dominates anywhere: a near-duplicate with differing gain or noise
        return ChannelPlan(ChannelLayout.DUPLICATE, (0,))
    return ChannelPlan(ChannelLayout.SEPARATE, parties)


def _span_db(db: npt.NDArray[np.float64], start_s: float, end_s: float) -> float:
    a = max(0, int(start_s / _FRAME_S))
    b = min(len(db), max(a + 1, int(np.ceil(end_s / _FRAME_S))))
    if b <= a:
        return -100.0
    return float(10 * np.log10(np.mean(10 ** (db[a:b] / 10)) + 1e-10))


def drop_bleed(
    segments: list[EngineSegment], audio: DecodedAudio, options: ChannelOptions | None = None
) -> list[EngineSegment]:
    """Drop the words of each channel that another channel carries louder (see the docstring)."""
    opts = options or ChannelOptions()
    if audio.channel_count < 2:
        return segments
    db = np.stack([_frame_db(audio.channel(c), audio.sample_rate) for c in range(audio.channel_count)])

    def own(channel: int, start: float, end: float) -> bool:
        mine = _span_db(db[channel], start, end)
        loudest_other = max(_span_db(db[c], start, end) for c in range(len(db)) if c != channel)
        return mine >= loudest_other - opts.bleed_margin_db

    out: list[EngineSegment] = []
    for seg in segments:
        if seg.channel is None or seg.channel >= len(db):
            out.append(seg)
            continue
        if not seg.words:
            if own(seg.channel, seg.start_s, seg.end_s):
                out.append(seg)
            continue
        kept: list[Word] = [w for w in seg.words if own(seg.channel, w.start_s, w.end_s)]
        if not kept:
            continue
        if len(kept) == len(seg.words):
            out.append(seg)
            continue
        out.append(
            replace(
                seg,
                start_s=kept[0].start_s,
                end_s=kept[-1].end_s,
                text=" ".join(w.word for w in kept),
                words=tuple(kept),
            )
        )
    return out
