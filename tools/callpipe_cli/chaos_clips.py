"""Short, distinct recordings for the chaos run: many calls, little engine time.

A 1,000-call crash test must finish in bounded time on two cores, so each clip is 1–3 s of
dual-channel 8 kHz speech (one short turn per party) synthesized once per base script; the
other calls are byte-level variants of those bases (a few ms more trailing silence), which makes
each one a different recording to ingest (its SHA-256 differs) while the speech, and therefore
the engine time, stays the same. A share of the calls is pure digital silence of varying length:
they take the transcriber's ``no_speech`` path and must land in ClickHouse like any other call.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from callpipe.models import Role
from callpipe_tools.synthetic.calls import CallScript, ScriptTurn, generate_call, pad_with_silence, write_wav

__all__ = ["ChaosClip", "make_clips"]

_RATE = 8000

# (agent, caller) pairs: short, but each says something an analyzer can classify.
_LINES = [
    ("Acme support, how can I help?", "I was charged twice."),
    ("Thanks for calling Acme.", "My internet is down."),
    ("Acme, this is Sam.", "Please cancel my account."),
    ("How may I help you today?", "I need to change my address."),
    ("Acme billing, this is Lee.", "My package is late."),
    ("Thank you for calling.", "I want a refund please."),
    ("Acme care, Priya speaking.", "Globex offered me a better price."),
    ("Hello, this is Jordan.", "My card was declined."),
]


@dataclass(frozen=True)
class ChaosClip:
    """One call of the run: its file, the call id we upload it under, and whether it is silent."""

    call_id: str
    path: Path
    silent: bool


def _base_clip(index: int, out: Path) -> Path:
    agent, caller = _LINES[index % len(_LINES)]
    # The index in the caller's line keeps bases distinct when there are more than _LINES.
    suffix = f" Order {index}." if index >= len(_LINES) else ""
    script = CallScript(
        call_id=f"chaos-base-{index}",
        turns=[
            ScriptTurn(role=Role.AGENT, text=agent, gap_before_s=0.0),
            ScriptTurn(role=Role.CALLER, text=caller + suffix, gap_before_s=0.2),
        ],
        lead_in_s=0.2,
        tail_s=0.2,
    )
    return generate_call(script, out / f"base-{index:03d}", sample_rate=_RATE).stereo_path


def _silent(index: int, out: Path) -> Path:
    # 1.0 s plus index ms: every silent call is a different file.
    frames = _RATE + 8 * (index + 1)
    path = out / f"silent-{index:05d}.wav"
    write_wav(path, np.zeros((frames, 2), dtype=np.int16), _RATE)
    return path


def make_clips(
    count: int, out: Path, *, run_id: str, silent_share: float = 0.1, bases: int = 12
) -> list[ChaosClip]:
    """``count`` distinct recordings in ``out`` with call ids ``chaos-<run_id>-<n>``."""
    if count < 1:
        raise ValueError("count must be at least 1")
    out.mkdir(parents=True, exist_ok=True)
    silent_count = round(count * silent_share)
    speech_count = count - silent_count
    base_paths = [_base_clip(i, out) for i in range(min(bases, max(speech_count, 1)))] if speech_count else []
    clips: list[ChaosClip] = []
    for n in range(speech_count):
        base = base_paths[n % len(base_paths)]
        variant = n // len(base_paths)
        path = pad_with_silence(base, 8 * (variant + 1), out / f"call-{n:05d}.wav")
        clips.append(ChaosClip(f"chaos-{run_id}-{n:05d}", path, silent=False))
    for k in range(silent_count):
        clips.append(ChaosClip(f"chaos-{run_id}-{speech_count + k:05d}", _silent(k, out), silent=True))
    return clips
