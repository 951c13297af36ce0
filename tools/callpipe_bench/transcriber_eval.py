"""Transcriber eval: WER, role-attribution accuracy and real-time factor on synthetic calls.

    python -m callpipe_bench.transcriber_eval [--scripts sample|heldout|all] [--calls DIR]
                                               [--model tiny.en] [--beam-size 5] [--cache-dir DIR]
    python -m callpipe_bench.transcriber_eval --real [...]   (real speech: transcriber_real_eval)
    python -m callpipe_bench.transcriber_eval --speed [...]  (CPU time: transcriber_speed_eval)
    python -m callpipe_bench.transcriber_eval --tiers [...]  (Whisper tiers: transcriber_tiers)

Generates the built-in scripts (espeak-ng, 8 kHz; ``--scripts``: the five sample calls, the five
held-out calls with other words and voices, or both) unless ``--calls`` points at a folder of
generated calls, runs the real transcriber stage (fetch from the recording store, decode, engine,
roles) on the dual-channel WAV and on the mono mix of each call, and prints per call and overall:

- WER: word error rate of the whole transcript against the script (normalized text);
- role accuracy (attribution-based): every reference word is tagged with the role of its script
  turn and every recognized word with the role of the utterance it was emitted in; the two word
  sequences (normalized as for the WER) are aligned with the WER's own edit-distance alignment,
  and the figure is the share of aligned pairs (matches and substitutions) whose roles agree.
  Deleted and inserted words are the WER's business and are not counted here. Word timestamps
  play no part: a dual-channel word whose timestamp drifts into the other party's turn still
  belongs to its channel's utterance, and it is the utterance's role the transcript delivers.
  It still fails where attribution fails: a swapped channel map, or a mono word the diarizer
  put in the other speaker's utterance, is an aligned pair with disagreeing roles;
- RTF: stage wall time / audio duration, per call. On a machine shared with other work the wall
  time includes waiting for a core, so ``cpuRTF`` is printed too: the process CPU time over
  (audio duration × ``--cores``), the wall RTF the call would have on that many idle cores if the
  work spread over them perfectly (a lower bound; compare with the wall figure on an idle box).

Keyterms: each script carries the brand name its call center would configure as custom vocabulary
(``TRANSCRIBER_KEYTERMS``; hotwords for Whisper); the eval passes it with that call unless
``--no-keyterms``. Nothing else of the reference reaches the engine.

Engine settings come from ``TRANSCRIBER_*`` like the service (this is the entry point here).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import httpx

from callpipe.models import Direction, RecordingReady, RecordingSource, TranscriptReady
from callpipe.store import LocalRecordingStore
from callpipe_bench.stt_cache import CachingEngine
from callpipe_bench.wer import align_words, normalize_text, word_errors
from callpipe_tools.synthetic.calls import HELDOUT_SCRIPTS, SAMPLE_SCRIPTS, SyntheticCall, generate_call

__all__ = ["event_for", "main", "role_accuracy"]


def role_accuracy(call: SyntheticCall, transcript: TranscriptReady) -> tuple[int, int]:
    """(aligned words whose roles agree, aligned words) — see the module docstring."""
    ref = [(token, turn.role) for turn in call.turns for token in normalize_text(turn.text)]
    hyp = [(token, utt.role) for utt in transcript.utterances for token in normalize_text(utt.text)]
    right = total = 0
    for i, j in align_words([t for t, _ in ref], [t for t, _ in hyp]):
        if i is None or j is None:
            continue
        total += 1
        right += ref[i][1] is hyp[j][1]
    return right, total


def event_for(call: SyntheticCall, uri: str, mono: bool) -> RecordingReady:
    """The ``RecordingReady`` for one generated call: dual-channel with its channel map, or its mono mix."""
    from datetime import UTC, datetime

    from callpipe.models import CallMetadata

    return RecordingReady(
        call_id=call.call_id + (".mono" if mono else ""),
        recording_id=call.call_id,
        source=RecordingSource.UPLOAD,
        audio_uri=uri,
        content_type="audio/wav",
        channel_count=1 if mono else 2,
        channel_roles=[] if mono else call.channel_roles,
        metadata=CallMetadata(direction=Direction.INBOUND),
        received_at=datetime.now(UTC),
    )


async def _run(args: argparse.Namespace) -> int:
    # Loaded lazily: the other benchmarks of this package run without the transcriber extra.
    factory = importlib.import_module("callpipe_transcriber.engines.factory")
    fetch = importlib.import_module("callpipe_transcriber.fetch")
    roles = importlib.import_module("callpipe_transcriber.roles")
    tsettings = importlib.import_module("callpipe_transcriber.settings")
    stage = importlib.import_module("callpipe_transcriber.stage")
    build_engine, AudioFetcher, FetchOptions = factory.build_engine, fetch.AudioFetcher, fetch.FetchOptions
    RoleCues, TranscriberSettings = roles.RoleCues, tsettings.TranscriberSettings
    TranscriberPorts, transcribe = stage.TranscriberPorts, stage.transcribe

    overrides: dict[str, object] = {}
    if args.model:
        overrides["whisper_model"] = args.model
    if args.beam_size:
        overrides["whisper_beam_size"] = args.beam_size
    settings = TranscriberSettings(**overrides)
    with tempfile.TemporaryDirectory(prefix="callpipe-eval-") as tmp:
        calls_dir = args.calls or Path(tmp) / "calls"
        if args.calls is None:
            chosen = {
                "sample": SAMPLE_SCRIPTS,
                "heldout": HELDOUT_SCRIPTS,
                "all": SAMPLE_SCRIPTS + HELDOUT_SCRIPTS,
            }
            for script in chosen[args.scripts]:
                generate_call(script, calls_dir)
        calls = [SyntheticCall.load(p) for p in sorted(calls_dir.glob("*.json"))]
        store = LocalRecordingStore(Path(tmp) / "store")
        async with httpx.AsyncClient() as http:
            engine = build_engine(settings, http)
            if args.cache_dir is not None:
                # Everything the engine's output depends on besides the audio, model and keyterms.
                fingerprint = settings.model_dump_json(
                    include={k for k in type(settings).model_fields if k.startswith("whisper_")}
                )
                engine = CachingEngine(engine, args.cache_dir, fingerprint)
            ports = TranscriberPorts(
                fetcher=AudioFetcher(http, store, FetchOptions()),
                store=store,
                engine=engine,
                cues=RoleCues(min_confidence=settings.role_min_confidence),
                language=settings.language,
            )
            keyterms_on = not args.no_keyterms
            warm = getattr(engine, "warm_up", None)
            if warm is not None:
                await warm()
            print(
                f"engine={engine.name} model={engine.model} beam={settings.whisper_beam_size} "
                f"vad={settings.whisper_vad_filter}/{settings.whisper_vad_threshold}/"
                f"{settings.whisper_vad_min_silence_ms}/{settings.whisper_vad_speech_pad_ms} "
                f"keyterms={'per call' if keyterms_on else 'off'} "
                f"calls={len(calls)}"
            )
            print(
                f"{'call':<22}{'mode':<6}{'dur_s':>7}{'WER':>8}{'role_acc':>10}{'RTF':>7}{'cpuRTF':>8}"
                f"{'low_conf':>9}"
            )
            totals: dict[str, list[float]] = {}
            heldout_ids = {script.call_id for script in HELDOUT_SCRIPTS}
            for call in calls:
                for mode in ("dual", "mono"):
                    path = call.mono_path if mode == "mono" else call.stereo_path
                    uri = await store.put(f"{call.call_id}/{mode}.wav", path.read_bytes(), "audio/wav")
                    started, cpu_started = time.perf_counter(), time.process_time()
                    # Each call is a different call center: its ports carry that center's
                    # vocabulary (TRANSCRIBER_KEYTERMS), as the service's would.
                    call_ports = replace(ports, keyterms=tuple(call.keyterms) if keyterms_on else ())
                    transcript = await transcribe(event_for(call, uri, mode == "mono"), call_ports)
                    elapsed = time.perf_counter() - started
                    cpu_rtf = (time.process_time() - cpu_started) / (call.duration_s * args.cores)
                    errors, words = word_errors(
                        call.reference_text, " ".join(u.text for u in transcript.utterances)
                    )
                    right, total = role_accuracy(call, transcript)
                    rtf = elapsed / call.duration_s
                    group = "heldout" if call.call_id in heldout_ids else "sample"
                    for key, value in (
                        (f"{mode}.err", errors),
                        (f"{mode}.words", words),
                        (f"{mode}.right", right),
                        (f"{mode}.total", total),
                        (f"{mode}.rtf", rtf),
                        (f"{mode}.cpurtf", cpu_rtf),
                    ):
                        totals.setdefault(key, []).append(float(value))
                        totals.setdefault(f"{group}:{key}", []).append(float(value))
                    print(
                        f"{call.call_id:<22}{mode:<6}{call.duration_s:>7.1f}{errors / max(words, 1):>8.3f}"
                        f"{right / max(total, 1):>10.3f}{rtf:>7.3f}{cpu_rtf:>8.3f}"
                        f"{transcript.roles_low_confidence!s:>9}"
                    )
            await engine.aclose()
    groups = [g for g in ("sample", "heldout") if f"{g}:dual.err" in totals]
    # Per set when both are present (settings are chosen on both; a gain on one set only is noise
    # or tuning), then all calls together.
    for prefix, label in [*((f"{g}:", g) for g in groups if len(groups) > 1), ("", "all")]:
        for mode in ("dual", "mono"):
            t = {
                k[len(prefix) :]: v
                for k, v in totals.items()
                if k.startswith(prefix)
                and k[len(prefix) :]
                in {f"{mode}.{m}" for m in ("err", "words", "right", "total", "rtf", "cpurtf")}
            }
            wer_all = sum(t[f"{mode}.err"]) / max(sum(t[f"{mode}.words"]), 1)
            acc = sum(t[f"{mode}.right"]) / max(sum(t[f"{mode}.total"]), 1)
            rtfs, cpu = t[f"{mode}.rtf"], t[f"{mode}.cpurtf"]
            print(
                f"OVERALL {label} {mode}: WER={wer_all:.3f} role_accuracy={acc:.3f} "
                f"RTF mean={statistics.mean(rtfs):.3f} max={max(rtfs):.3f} "
                f"cpuRTF@{args.cores} mean={statistics.mean(cpu):.3f} max={max(cpu):.3f}"
            )
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--real" in argv:  # real human speech from ../shared/realdata: its own module
        from callpipe_bench import transcriber_real_eval

        return transcriber_real_eval.main([a for a in argv if a != "--real"])
    if "--tiers" in argv:  # Whisper model tiers side by side: transcriber_tiers
        from callpipe_bench import transcriber_tiers

        return transcriber_tiers.main([a for a in argv if a != "--tiers"])
    if "--speed" in argv:  # CPU time of diarization (and the stage) on a 5-minute call
        from callpipe_bench import transcriber_speed_eval

        return transcriber_speed_eval.main([a for a in argv if a != "--speed"])
    parser = argparse.ArgumentParser(prog="python -m callpipe_bench.transcriber_eval", description=__doc__)
    parser.add_argument("--calls", type=Path, default=None, help="folder of generated calls (*.json)")
    parser.add_argument("--model", default=None, help="override TRANSCRIBER_WHISPER_MODEL")
    parser.add_argument("--beam-size", type=int, default=None)
    parser.add_argument("--scripts", choices=["sample", "heldout", "all"], default="sample")
    parser.add_argument(
        "--no-keyterms", action="store_true", help="ignore the calls' configured brand names (keyterms)"
    )
    parser.add_argument("--cores", type=int, default=2, help="cores the cpuRTF figure assumes")
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="cache engine results here (iterate on diarization/roles without re-running Whisper;"
        " RTF figures then measure the cache, not the engine)",
    )
    return asyncio.run(_run(parser.parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
