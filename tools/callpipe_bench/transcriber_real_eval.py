"""Transcriber eval on real human speech (``../shared/realdata``): roles, coverage, DER, WER, checks.

    ./dev bench transcriber --real [--split dev|heldout|all] [--realdata DIR] [--cache-dir DIR]

Runs the real transcriber stage (the configured engine, ``TRANSCRIBER_*``) on:

- the real two-party stereo calls (``audio/``: channel 0 caller, channel 1 agent) as they are and
  mixed to mono. Truth per 20 ms frame comes from the channels: the party whose channel is at
  least 6 dB louder than the other and 10 dB above its own noise floor (10th percentile) speaks.
  *Role accuracy* (time-weighted): over truth-speech frames that some utterance covers, the share
  of covering utterances whose role is the frame's party (a frame covered by a right and a wrong
  utterance — bleed transcribed twice — counts one half). *Coverage*: share of truth-speech
  frames inside some utterance.
- pyannote's ``sample.wav`` (mono): DER against ``sample.rttm`` (frame level, no collar,
  speakers mapped by the best assignment; utterance spans as the hypothesis);
- the single-speaker clips (``single/``): WER against their references, and the checks
  "one role only" and, for the mono-in-stereo ``jfk.flac``, "no duplicated utterance";
- the diarizer's overlap spans (``DiarizationResult.overlaps``, the diarizer called directly):
  precision and recall in time against the RTTM's overlapped speech on ``sample.wav``, and the
  check "no overlap marked" on the single clips.

Split (declared before any tuning; tune on ``dev`` only, run ``heldout`` once):
``DEV_CALLS`` / ``HELDOUT_CALLS`` below. The single clips and sample.wav are checks, in dev.

Engine results are cached under ``--cache-dir`` keyed by the exact audio handed to the engine
and the model, so iterating on channel analysis / diarization / roles re-runs no Whisper.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import io
import itertools
import json
import tempfile
import time
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from callpipe.models import (
    CallMetadata,
    ChannelRole,
    Direction,
    RecordingReady,
    RecordingSource,
    Role,
    TranscriptReady,
)
from callpipe.store import LocalRecordingStore
from callpipe_bench.stt_cache import CachingEngine
from callpipe_bench.wer import word_errors

__all__ = [
    "CHANNEL_ROLES",
    "DEV_CALLS",
    "FRAME_S",
    "HELDOUT_CALLS",
    "StageRunner",
    "frame_db",
    "frame_truth",
    "main",
    "overlap_scores",
    "role_scores",
    "stage_runner",
    "transcriber_ports",
    "wav_bytes",
]

DEV_CALLS = ("SNG0072", "AWS_AutoRepairs40")
HELDOUT_CALLS = ("SNG0480", "MUL1423")
FRAME_S = 0.02
_LOUDER_DB = 6.0
_ABOVE_FLOOR_DB = 10.0
# Channel 0 is the customer/caller, channel 1 the agent, in every call of audio/ (its README).
CHANNEL_ROLES = (Role.CALLER, Role.AGENT)


def frame_db(samples: npt.NDArray[np.float32], rate: int) -> npt.NDArray[np.float64]:
    hop = int(FRAME_S * rate)
    n = len(samples) // hop
    frames = samples[: n * hop].reshape(n, hop).astype(np.float64)
    db: npt.NDArray[np.float64] = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-10)
    return db


def frame_truth(stereo: npt.NDArray[np.float32], rate: int) -> npt.NDArray[np.int64]:
    """Per 20 ms frame: the speaking channel (0/1), or -1 (nobody, or both alike)."""
    db0, db1 = frame_db(stereo[0], rate), frame_db(stereo[1], rate)
    floor0, floor1 = np.percentile(db0, 10), np.percentile(db1, 10)
    truth = np.full(len(db0), -1, dtype=np.int64)
    truth[(db0 >= db1 + _LOUDER_DB) & (db0 > floor0 + _ABOVE_FLOOR_DB)] = 0
    truth[(db1 >= db0 + _LOUDER_DB) & (db1 > floor1 + _ABOVE_FLOOR_DB)] = 1
    return truth


def role_scores(truth: npt.NDArray[np.int64], transcript: TranscriptReady) -> tuple[float, float, float]:
    """(right frames, covered truth frames, truth frames) — see the module docstring."""
    n = len(truth)
    right = np.zeros(n)
    count = np.zeros(n)
    for utt in transcript.utterances:
        a, b = int(utt.start_s / FRAME_S), min(n, int(np.ceil(utt.end_s / FRAME_S)))
        if b <= a:
            continue
        count[a:b] += 1
        for ch, role in enumerate(CHANNEL_ROLES):
            seg = truth[a:b] == ch
            right[a:b] += seg & (utt.role is role)
    speech = truth >= 0
    covered = speech & (count > 0)
    share = np.divide(right, count, out=np.zeros(n), where=count > 0)
    return float(share[covered].sum()), float(covered.sum()), float(speech.sum())


def _rttm(path: Path) -> list[tuple[float, float, str]]:
    turns = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if parts and parts[0] == "SPEAKER":
            start, dur = float(parts[3]), float(parts[4])
            turns.append((start, start + dur, parts[7]))
    return turns


def der(reference: list[tuple[float, float, str]], transcript: TranscriptReady, duration_s: float) -> float:
    """Frame-level DER (miss + false alarm + confusion over reference speech), best speaker map."""
    n = int(np.ceil(duration_s / FRAME_S)) + 1
    ref_spk = sorted({s for _, _, s in reference})
    hyp_spk = sorted({u.speaker for u in transcript.utterances})
    ref = np.zeros((len(ref_spk), n), dtype=bool)
    hyp = np.zeros((max(1, len(hyp_spk)), n), dtype=bool)
    for a, b, s in reference:
        ref[ref_spk.index(s), int(a / FRAME_S) : int(b / FRAME_S)] = True
    for u in transcript.utterances:
        hyp[hyp_spk.index(u.speaker), int(u.start_s / FRAME_S) : int(u.end_s / FRAME_S)] = True
    ref_n, hyp_n = ref.sum(axis=0), hyp.sum(axis=0)
    best_correct = 0
    k = max(len(ref_spk), len(hyp))
    for perm in itertools.permutations(range(k), len(ref_spk)):
        correct = sum(int((ref[i] & hyp[j]).sum()) for i, j in enumerate(perm) if j < len(hyp))
        best_correct = max(best_correct, correct)
    # Standard scoring: errors = sum over frames of max(ref, hyp) - correct.
    errors = int(np.maximum(ref_n, hyp_n).sum()) - best_correct
    return errors / max(1, int(ref_n.sum()))


def wav_bytes(samples: npt.NDArray[np.float32], rate: int) -> bytes:
    """16-bit PCM WAV of (channels, frames) float samples."""
    pcm = (np.clip(samples.T, -1, 1) * 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(samples.shape[0])
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


@dataclass(slots=True)
class StageRunner:
    """The real transcriber stage over local bytes: stores them, hands it a RecordingReady."""

    ports: Any
    transcribe: Any
    store: LocalRecordingStore

    async def run(
        self, name: str, data: bytes, channels: int, roles: list[ChannelRole]
    ) -> tuple[TranscriptReady, float]:
        uri = await self.store.put(f"real/{name}", data, "audio/wav")
        event = RecordingReady(
            call_id=name,
            recording_id=name,
            source=RecordingSource.UPLOAD,
            audio_uri=uri,
            content_type=None,
            channel_count=channels,
            channel_roles=roles,
            metadata=CallMetadata(direction=Direction.INBOUND if roles else Direction.UNKNOWN),
            received_at=datetime.now(UTC),
        )
        started = time.perf_counter()
        transcript = await self.transcribe(event, self.ports)
        return transcript, time.perf_counter() - started


def transcriber_ports(config: Any, http: Any, store: LocalRecordingStore, engine: Any) -> Any:
    """The transcriber stage's ports as the service wires them, over ``store`` and ``engine``."""
    fetch = importlib.import_module("callpipe_transcriber.fetch")
    roles_mod = importlib.import_module("callpipe_transcriber.roles")
    stage = importlib.import_module("callpipe_transcriber.stage")
    return stage.TranscriberPorts(
        fetcher=fetch.AudioFetcher(http, store, fetch.FetchOptions()),
        store=store,
        engine=engine,
        cues=roles_mod.RoleCues(min_confidence=config.role_min_confidence),
        language=config.language,
    )


@contextlib.asynccontextmanager
async def stage_runner(cache_dir: Path, **settings: Any) -> AsyncIterator[tuple[StageRunner, CachingEngine]]:
    """The transcriber stage as configured (``TRANSCRIBER_*``; ``settings`` override), its engine
    results cached under ``cache_dir``, over a temporary local recording store."""
    factory = importlib.import_module("callpipe_transcriber.engines.factory")
    tsettings = importlib.import_module("callpipe_transcriber.settings")
    stage = importlib.import_module("callpipe_transcriber.stage")
    import httpx

    config = tsettings.TranscriberSettings(**settings)
    with tempfile.TemporaryDirectory(prefix="callpipe-real-") as tmp:
        store = LocalRecordingStore(Path(tmp) / "store")
        async with httpx.AsyncClient() as http:
            engine = CachingEngine(factory.build_engine(config, http), cache_dir)
            ports = transcriber_ports(config, http, store, engine)
            try:
                yield StageRunner(ports, stage.transcribe, store), engine
            finally:
                await engine.aclose()


def _duplicates(transcript: TranscriptReady) -> int:
    """Utterances whose text another utterance of a different speaker repeats at an overlapping time."""
    dup = 0
    utts = transcript.utterances
    for i, a in enumerate(utts):
        for b in utts[i + 1 :]:
            overlap = min(a.end_s, b.end_s) - max(a.start_s, b.start_s)
            if (
                a.speaker != b.speaker
                and overlap > 0
                and word_errors(a.text, b.text)[0] <= len(a.text.split()) // 3
            ):
                dup += 1
    return dup


async def _run(args: Any) -> int:
    realdata: Path = args.realdata
    if not (realdata / "audio").is_dir():
        print(f"real data: ABSENT ({realdata} has no audio/): nothing measured on real speech")
        return 0
    audio_mod = importlib.import_module("callpipe_transcriber.audio")
    overrides = {"whisper_model": args.model} if args.model else {}
    calls = {"dev": DEV_CALLS, "heldout": HELDOUT_CALLS, "all": DEV_CALLS + HELDOUT_CALLS}[args.split]
    print(f"real data: {realdata} split={args.split} calls={','.join(calls)}")
    async with stage_runner(args.cache_dir, **overrides) as (runner, engine):
        print(f"engine={engine.name} model={engine.model}")
        print(f"{'call':<20}{'mode':<7}{'dur_s':>7}{'role_acc':>9}{'coverage':>9}{'RTF':>7}{'low_conf':>9}")
        totals: dict[str, list[float]] = {}
        for call in calls:
            data = (realdata / "audio" / f"{call}.wav").read_bytes()
            audio = audio_mod.decode_audio(data)
            truth = frame_truth(audio.samples, audio.sample_rate)
            mono = wav_bytes(audio.samples.mean(axis=0, keepdims=True), audio.sample_rate)
            mapped = [ChannelRole(channel=c, role=r) for c, r in enumerate(CHANNEL_ROLES)]
            for mode, payload, chans, cmap in (("stereo", data, 2, mapped), ("mono", mono, 1, [])):
                transcript, wall = await runner.run(f"{call}.{mode}.wav", payload, chans, cmap)
                right, covered, speech = role_scores(truth, transcript)
                for key, value in (("right", right), ("covered", covered), ("speech", speech)):
                    totals.setdefault(f"{mode}.{key}", []).append(value)
                print(
                    f"{call:<20}{mode:<7}{audio.duration_s:>7.1f}{right / max(covered, 1):>9.3f}"
                    f"{covered / max(speech, 1):>9.3f}{wall / audio.duration_s:>7.3f}"
                    f"{transcript.roles_low_confidence!s:>9}"
                )
        for mode in ("stereo", "mono"):
            r, c, s = (sum(totals[f"{mode}.{k}"]) for k in ("right", "covered", "speech"))
            print(
                f"OVERALL real {args.split} {mode}: "
                f"role_accuracy={r / max(c, 1):.3f} coverage={c / max(s, 1):.3f}"
            )
        single = realdata / "single"
        if args.split != "heldout" and single.is_dir():
            await _single_checks(runner, single)
    return 0


async def _single_checks(runner: StageRunner, single: Path) -> None:
    refs = json.loads((single / "refs.json").read_text())
    osr = json.loads((single / "test_samples.json").read_text())[0]
    ldc = " ".join((single / "LDC93S1.txt").read_text().split()[2:])
    clips = (
        ("jfk.flac", refs["jfk.flac"]["text"], 2),
        ("OSR_us_000_0034_8k.wav", osr["transcription"], 1),
        ("LDC93S1_pcms16le_1_8000.wav", ldc, 1),
    )
    print(f"{'clip':<30}{'WER':>7}{'roles':>7}{'dups':>6}  check")
    for name, ref, chans in clips:
        transcript, _ = await runner.run(name, (single / name).read_bytes(), chans, [])
        errors, words = word_errors(ref, " ".join(u.text for u in transcript.utterances))
        roles = {u.role for u in transcript.utterances}
        dups = _duplicates(transcript)
        ok = len(roles) == 1 and dups == 0
        print(f"{name:<30}{errors / max(words, 1):>7.3f}{len(roles):>7}{dups:>6}  {'PASS' if ok else 'FAIL'}")
    sample = single / "sample.wav"
    transcript, _ = await runner.run("sample.wav", sample.read_bytes(), 1, [])
    value = der(_rttm(single / "sample.rttm"), transcript, transcript.audio_duration_s)
    speakers = len({u.speaker for u in transcript.utterances})
    print(f"DER sample.wav (pyannote, 2 speakers): {value:.3f} (speakers found: {speakers})")
    _overlap_checks(single, [name for name, _, _ in clips])


def overlap_scores(
    reference: list[tuple[float, float, str]], overlaps: tuple[tuple[float, float], ...], duration_s: float
) -> tuple[float, float, float]:
    """(seconds marked and truly overlapped, seconds marked, seconds overlapped in the reference)."""
    n = int(np.ceil(duration_s / FRAME_S)) + 1
    talking = np.zeros(n, dtype=np.int64)
    for a, b, _ in reference:
        talking[int(a / FRAME_S) : int(b / FRAME_S)] += 1
    truth = talking >= 2
    marked = np.zeros(n, dtype=bool)
    for a, b in overlaps:
        marked[int(a / FRAME_S) : int(b / FRAME_S)] = True
    return (
        float((truth & marked).sum() * FRAME_S),
        float(marked.sum() * FRAME_S),
        float(truth.sum() * FRAME_S),
    )


def _overlap_checks(single: Path, clips: list[str]) -> None:
    """The diarizer's overlap spans (not part of the transcript) on sample.wav and the single clips."""
    audio_mod = importlib.import_module("callpipe_transcriber.audio")
    diarize = importlib.import_module("callpipe_transcriber.diarize").diarize

    def overlaps(name: str) -> tuple[tuple[tuple[float, float], ...], float]:
        audio = audio_mod.decode_audio((single / name).read_bytes())
        return diarize(audio.mono(), audio.sample_rate).overlaps, audio.duration_s

    spans, duration_s = overlaps("sample.wav")
    hit, marked, truth = overlap_scores(_rttm(single / "sample.rttm"), spans, duration_s)
    print(
        f"overlap sample.wav: reference {truth:.2f} s, marked {marked:.2f} s, "
        f"precision {hit / max(marked, 1e-9):.2f} recall {hit / max(truth, 1e-9):.2f}"
    )
    on_single = sum(e - s for name in clips for s, e in overlaps(name)[0])
    verdict = "PASS" if on_single == 0 else "FAIL"
    print(f"overlap marked on the single-speaker clips: {on_single:.2f} s ({verdict})")


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="callpipe bench transcriber --real", description=__doc__)
    parser.add_argument("--realdata", type=Path, default=Path("../shared/realdata"))
    parser.add_argument("--split", choices=["dev", "heldout", "all"], default="dev")
    parser.add_argument("--model", default=None, help="override TRANSCRIBER_WHISPER_MODEL")
    parser.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "callpipe-stt-cache")
    return asyncio.run(_run(parser.parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
