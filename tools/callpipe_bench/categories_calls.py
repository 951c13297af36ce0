"""``callpipe bench categories-calls``: the starter categories on real phone calls.

    callpipe bench categories-calls [--realdata ../shared/realdata] [--cache-dir DIR] [--show-cases]

``bench categories`` measures on team-written calls (dev) and on real text chats (TweetSumm), where
recording disclosure, silence and talk-over cannot show. This bench measures on real phone calls,
none of which was used to write or tune a category (the bundled ``analysis.yaml``, unchanged):

* **turns**: the 7 SpokenWOZ dialogues of ``spokenwoz_turns.jsonl`` (real human-to-human calls;
  turn times from the recordings, text silver), through metrics and ``QualityRules`` as in the
  analyzer: the phrase categories against ``datasets/categories/real_calls.yaml`` (labelled from
  the turns before any rule ran on them).
* **audio**: the 4 real stereo calls of ``audio/`` through the real transcriber stage (the
  configured engine) and the real analyzer stage (offline engine), as stereo and mixed to mono;
  each also with dead air (the category's own threshold + 5 s of noise at each channel's floor)
  inserted at the pause nearest the middle, since no real call here holds that long. Truth:

  - ``long_silence``: from the channels: the longest stretch, between the first and the last
    speech, in which neither channel is active;
  - ``agent_talked_over_caller``: from the channels: agent turns of at least
    ``BACKCHANNEL_MAX_S`` (shorter is a back-channel, "mm-hmm") that start while the caller's own
    speech goes on for at least ``INTERRUPT_MIN_REMAINING_S``, at least the category's ``min``
    times; measured on the calls as recorded (the inserted dead air changes no talk-over);
  - the phrase categories from the labels (the SpokenWOZ calls; the AWS call has none).

Channel activity per 20 ms frame: ``ABOVE_FLOOR_DB`` over the channel's noise floor (its 10th
percentile) and at most ``BLEED_MARGIN_DB`` under the other channel: the other party's bleed sits
42-58 dB under its own channel on these calls (10th-90th percentile), so a voice that close is the
channel's own (double talk), not a leak. Runs are merged over gaps under ``MERGE_GAP_S``; runs
under ``MIN_RUN_S`` are dropped. These constants were fixed from the channels alone, before any
category ran on the calls.

Engine results are cached under ``--cache-dir`` (keyed by the audio and the model), like
``bench transcriber --real``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import itertools
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import yaml

from callpipe.models import ChannelRole, Role, Utterance
from callpipe_analyzer.config import Party, load_config
from callpipe_analyzer.metrics import INTERRUPT_MIN_REMAINING_S
from callpipe_analyzer.quality import QualityRules, longest_gap_s
from callpipe_analyzer.sentiment import SentimentScorer
from callpipe_bench.categories_eval import Tally, categorize
from callpipe_bench.transcriber_real_eval import CHANNEL_ROLES, FRAME_S, frame_db, stage_runner, wav_bytes

__all__ = ["Span", "channel_activity", "insert_dead_air", "longest_silence", "main", "talk_overs"]

ROOT = Path(__file__).resolve().parents[2]
LABELS_FILE = ROOT / "datasets" / "categories" / "real_calls.yaml"
ABOVE_FLOOR_DB = 10.0
BLEED_MARGIN_DB = 20.0
MERGE_GAP_S = 0.3
MIN_RUN_S = 0.2
BACKCHANNEL_MAX_S = 1.0
DEAD_AIR_EXTRA_S = 5.0
PHRASE_CATEGORIES = (
    "recording_disclosure_missing",
    "no_greeting",
    "supervisor_requested",
    "cancellation_threat",
)
TIMING_CATEGORIES = ("long_silence", "agent_talked_over_caller")

Span = tuple[float, float]


def _runs(mask: npt.NDArray[np.bool_]) -> list[Span]:
    edges = np.flatnonzero(np.diff(np.concatenate(([0], mask.astype(np.int8), [0]))))
    merged: list[Span] = []
    for start, end in zip(edges[::2] * FRAME_S, edges[1::2] * FRAME_S, strict=True):
        if merged and start - merged[-1][1] < MERGE_GAP_S:
            merged[-1] = (merged[-1][0], float(end))
        else:
            merged.append((float(start), float(end)))
    return [(s, e) for s, e in merged if e - s >= MIN_RUN_S]


def channel_activity(stereo: npt.NDArray[np.float32], rate: int) -> tuple[list[Span], list[Span]]:
    """Speech runs of channel 0 and channel 1 (see the module docstring)."""
    db0, db1 = frame_db(stereo[0], rate), frame_db(stereo[1], rate)
    active0 = (db0 > np.percentile(db0, 10) + ABOVE_FLOOR_DB) & (db0 >= db1 - BLEED_MARGIN_DB)
    active1 = (db1 > np.percentile(db1, 10) + ABOVE_FLOOR_DB) & (db1 >= db0 - BLEED_MARGIN_DB)
    return _runs(active0), _runs(active1)


def _union(*parties: list[Span]) -> list[Span]:
    merged: list[Span] = []
    for start, end in sorted(s for spans in parties for s in spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def longest_silence(*parties: list[Span]) -> float:
    """Longest stretch between the first and the last speech in which no party speaks."""
    talk = _union(*parties)
    return max((b[0] - a[1] for a, b in itertools.pairwise(talk)), default=0.0)


def talk_overs(talker: list[Span], holder: list[Span]) -> int:
    """Turns of ``talker`` (back-channels excluded) that start while ``holder`` goes on speaking."""
    return sum(
        1
        for start, end in talker
        if end - start >= BACKCHANNEL_MAX_S
        and any(h0 < start < h1 - INTERRUPT_MIN_REMAINING_S for h0, h1 in holder)
    )


def insert_dead_air(
    stereo: npt.NDArray[np.float32], rate: int, at_s: float, seconds: float, seed: int = 0
) -> npt.NDArray[np.float32]:
    """``seconds`` of each channel's own noise floor (Gaussian, at its 10th-percentile level) at ``at_s``."""
    rng = np.random.default_rng(seed)
    at, n = int(at_s * rate), int(seconds * rate)
    fill = np.empty((stereo.shape[0], n), dtype=np.float32)
    for ch in range(stereo.shape[0]):
        floor_rms = 10 ** (np.percentile(frame_db(stereo[ch], rate), 10) / 20)
        fill[ch] = rng.normal(0.0, floor_rms, n).astype(np.float32)
    return np.concatenate((stereo[:, :at], fill, stereo[:, at:]), axis=1)


def _pause_near_middle(caller: list[Span], agent: list[Span], duration_s: float) -> float:
    talk = _union(caller, agent)
    gaps = [(a[1] + b[0]) / 2 for a, b in itertools.pairwise(talk)]
    return min(gaps, key=lambda t: abs(t - duration_s / 2), default=duration_s / 2)


def _silence_min_s(rules: QualityRules) -> float:
    rule = rules.categories["long_silence"].rule.silence
    if rule is None or rule.window is not None:
        raise SystemExit("long_silence is no longer one silence rule over the call: update this bench")
    return rule.min_s


def _talk_overs_min(rules: QualityRules) -> int:
    rule = rules.categories["agent_talked_over_caller"].rule.interruptions
    if rule is None or rule.window is not None or rule.by is not Party.AGENT:
        raise SystemExit(
            "agent_talked_over_caller is no longer one agent interruption rule: update this bench"
        )
    return rule.min


@dataclass(slots=True)
class _Case:
    call: str
    mode: str
    variant: str
    truth: dict[str, bool | None]
    found: set[str]
    detail: str


def _turn_utterances(turns: list[dict[str, Any]]) -> list[Utterance]:
    return [
        Utterance(
            role=Role.AGENT if t["role"] == "agent" else Role.CALLER,
            speaker=t["speaker"],
            start_s=float(t["start"]),
            end_s=float(t["end"]),
            text=t["text"],
        )
        for t in turns
        if t["text"].strip()
    ]


def run_turns(
    rules: QualityRules, scorer: SentimentScorer, realdata: Path, labels: dict[str, dict[str, Any]]
) -> list[_Case]:
    cases = []
    with (realdata / "spokenwoz_turns.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if row["id"] not in labels:
                continue
            found = categorize(rules, scorer, _turn_utterances(row["turns"]))
            truth = {name: labels[row["id"]][name] for name in PHRASE_CATEGORIES}
            cases.append(_Case(row["id"], "turns", "as recorded", truth, found, ""))
    return cases


async def run_audio(
    rules: QualityRules, realdata: Path, labels: dict[str, dict[str, Any]], cache: Path
) -> list[_Case]:
    audio_mod = importlib.import_module("callpipe_transcriber.audio")
    analyzer_stage = importlib.import_module("callpipe_analyzer.stage")
    wiring = importlib.import_module("callpipe_analyzer.wiring")
    analyzer_settings = importlib.import_module("callpipe_analyzer.settings")
    ports = wiring.build_ports(analyzer_settings.AnalyzerSettings(engine="offline"))
    silence_min, overs_min = _silence_min_s(rules), _talk_overs_min(rules)
    by_audio = {str(v["audio"]).removesuffix(".wav"): k for k, v in labels.items() if v.get("audio")}
    mapped = [ChannelRole(channel=c, role=r) for c, r in enumerate(CHANNEL_ROLES)]
    cases: list[_Case] = []
    async with stage_runner(cache) as (runner, engine):
        print(f"audio: engine={engine.name} model={engine.model}; analyzer=offline")
        for wav in sorted((realdata / "audio").glob("*.wav")):
            label = labels[by_audio[wav.stem]]
            audio = audio_mod.decode_audio(wav.read_bytes())
            caller, agent = channel_activity(audio.samples, audio.sample_rate)
            overs, caller_overs = talk_overs(agent, caller), talk_overs(caller, agent)
            at = _pause_near_middle(caller, agent, audio.duration_s)
            held = insert_dead_air(audio.samples, audio.sample_rate, at, silence_min + DEAD_AIR_EXTRA_S)
            variants = (
                ("as recorded", "orig", audio.samples, longest_silence(caller, agent)),
                (
                    f"+dead air at {at:.0f} s",
                    "held",
                    held,
                    longest_silence(*channel_activity(held, audio.sample_rate)),
                ),
            )
            for variant, tag, samples, gap in variants:
                stereo = wav_bytes(samples, audio.sample_rate)
                mono = wav_bytes(samples.mean(axis=0, keepdims=True), audio.sample_rate)
                for mode, payload, chans, cmap in (("stereo", stereo, 2, mapped), ("mono", mono, 1, [])):
                    transcript, _ = await runner.run(f"{wav.stem}.{mode}.{tag}.wav", payload, chans, cmap)
                    analyzed = await analyzer_stage.analyze(transcript, ports)
                    found = {c.name for c in analyzed.categories}
                    found_overs = {r.role: r.interruptions for r in analyzed.metrics.roles}
                    truth: dict[str, bool | None] = {c: label[c] for c in PHRASE_CATEGORIES}
                    truth["long_silence"] = gap >= silence_min
                    # Talk-over is measured on the call as recorded: the dead air changes none.
                    truth["agent_talked_over_caller"] = overs >= overs_min if tag == "orig" else None
                    detail = (
                        f"silence truth {gap:5.1f} s / found {longest_gap_s(transcript.utterances):5.1f} s; "
                        f"talk-overs by the agent truth {overs} / found {found_overs.get(Role.AGENT, 0)}, "
                        f"by the caller truth {caller_overs} / found {found_overs.get(Role.CALLER, 0)}"
                    )
                    cases.append(_Case(wav.stem, mode, variant, truth, found, detail))
    return cases


def _print(title: str, cases: list[_Case], names: tuple[str, ...], show: bool) -> None:
    print(f"\n{title}: precision / recall (tp/predicted/actual of n)")
    for name in names:
        tally = Tally()
        for case in cases:
            if (truth := case.truth.get(name)) is not None:
                tally.add(truth, name in case.found, f"{case.call}/{case.mode}/{case.variant}")
        print(f"  {name:<28} {tally.cell()}")
        if show and tally.errors:
            print(f"    {', '.join(tally.errors)}")
    if show:
        for case in cases:
            flagged = ",".join(sorted(case.found)) or "-"
            print(f"  {case.call:<18} {case.mode:<6} {case.variant:<18} {case.detail} | {flagged}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="callpipe bench categories-calls",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--realdata", type=Path, default=ROOT.parent / "shared" / "realdata")
    parser.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "callpipe-stt-cache")
    parser.add_argument("--show-cases", action="store_true", help="every call, its truths and what was found")
    args = parser.parse_args(argv)
    if not (args.realdata / "audio").is_dir():
        print(f"real data: ABSENT ({args.realdata} has no audio/): nothing measured")
        return 2
    rules = QualityRules.from_config(load_config(None))
    labels = {c["id"]: c for c in yaml.safe_load(LABELS_FILE.read_text(encoding="utf-8"))["calls"]}
    turns = run_turns(rules, SentimentScorer(), args.realdata, labels)
    _print("turns (7 real SpokenWOZ calls, silver text)", turns, PHRASE_CATEGORIES, args.show_cases)
    audio = asyncio.run(run_audio(rules, args.realdata, labels, args.cache_dir))
    _print(
        "audio (4 real stereo calls, as stereo and mono, as recorded and with dead air)",
        audio,
        TIMING_CATEGORIES + PHRASE_CATEGORIES[:2],
        args.show_cases,
    )
    return 0
