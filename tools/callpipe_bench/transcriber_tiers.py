"""Whisper model tiers side by side: quality against speed on 2 cores.

    ./dev bench transcriber --tiers [--models tiny.en,base,small] [--scripts sample|heldout|all]
                                    [--realdata DIR] [--batched N]

For each model that installs offline (a packaged tier or a local folder; a name that faster-whisper
would download at load time is reported and skipped, never fetched), runs the real transcriber
stage with the service's other settings (``TRANSCRIBER_*``) and prints one row:

- ``WER dual`` / ``WER mono``: the synthetic calls (``--scripts``), whole-call WER against the
  script (Whisper's normalizer, as ``callpipe_bench.transcriber_eval``);
- ``WER silver``: the real dev call ``SNG0072`` (stereo, channel map given) against SpokenWOZ's
  silver transcript (machine-made, noisy: compares engines, not an absolute WER); only the dev
  call, so choosing a tier looks at no held-out material;
- ``roles mono``: attribution-based role accuracy on the synthetic mono mixes;
- ``RTF dual``: wall time / audio time of the dual-channel stage, mean and max over the calls,
  with ``cpuRTF@2`` (process CPU time / (audio × 2 cores)): on a shared machine the wall figure
  includes waiting for a core, the CPU figure is what 2 idle cores would need at best.

``--batched N`` also times faster-whisper's ``BatchedInferencePipeline`` (batch size N) against
the plain ``WhisperModel.transcribe`` on the channels of the synthetic calls, same options, and
prints audio seconds per wall second and per CPU second for both, with the WER of each.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from callpipe.models import ChannelRole, Role
from callpipe.store import LocalRecordingStore
from callpipe_bench.transcriber_eval import event_for, role_accuracy
from callpipe_bench.transcriber_real_eval import DEV_CALLS, transcriber_ports
from callpipe_bench.wer import word_errors
from callpipe_tools.synthetic.calls import HELDOUT_SCRIPTS, SAMPLE_SCRIPTS, SyntheticCall, generate_call

__all__ = ["main"]

_SILVER_CALL = "SNG0072"
assert _SILVER_CALL in DEV_CALLS  # the tier is chosen on dev material only


def _silver_reference(realdata: Path, call: str) -> str | None:
    path = realdata / "spokenwoz_turns.jsonl"
    if not path.exists():
        return None
    for line in path.read_text().splitlines():
        record = json.loads(line)
        if record["id"] == call:
            return " ".join(turn["text"] for turn in sorted(record["turns"], key=lambda t: t["start"]))
    return None


async def _tier(model: str, args: argparse.Namespace, calls: list[SyntheticCall], tmp: Path) -> str:
    import httpx

    errors_mod = importlib.import_module("callpipe.errors")
    factory = importlib.import_module("callpipe_transcriber.engines.factory")
    model_files = importlib.import_module("callpipe_transcriber.engines.model_files")
    tsettings = importlib.import_module("callpipe_transcriber.settings")
    stage = importlib.import_module("callpipe_transcriber.stage")
    label = f"{model:<10}"
    settings = tsettings.TranscriberSettings(whisper_model=model)
    try:
        files = await asyncio.to_thread(model_files.resolve_model, model, settings.model_cache_dir)
    except errors_mod.DependencyUnavailableError as exc:
        return f"{label} not installed: {exc}"
    if not await asyncio.to_thread(Path(files.model).is_dir):
        return f"{label} not installed offline (faster-whisper would download {model!r} at load): skipped"
    store = LocalRecordingStore(tmp / f"store-{model.replace('/', '_')}")
    async with httpx.AsyncClient() as http:
        engine = factory.build_engine(settings, http)
        try:
            await engine.warm_up()
        except errors_mod.DependencyUnavailableError as exc:
            return f"{label} cannot load: {exc}"
        ports = transcriber_ports(settings, http, store, engine)
        sums: dict[str, float] = {}
        rtfs: list[float] = []
        cpu_rtfs: list[float] = []
        for call in calls:
            call_ports = replace(ports, keyterms=tuple(call.keyterms))
            for mode in ("dual", "mono"):
                path = call.mono_path if mode == "mono" else call.stereo_path
                uri = await store.put(f"{call.call_id}/{mode}.wav", path.read_bytes(), "audio/wav")
                started, cpu_started = time.perf_counter(), time.process_time()
                transcript = await stage.transcribe(event_for(call, uri, mode == "mono"), call_ports)
                if mode == "dual":
                    rtfs.append((time.perf_counter() - started) / call.duration_s)
                    cpu_rtfs.append((time.process_time() - cpu_started) / (call.duration_s * 2))
                errs, words = word_errors(
                    call.reference_text, " ".join(u.text for u in transcript.utterances)
                )
                sums[f"{mode}.err"] = sums.get(f"{mode}.err", 0) + errs
                sums[f"{mode}.words"] = sums.get(f"{mode}.words", 0) + words
                if mode == "mono":
                    right, total = role_accuracy(call, transcript)
                    sums["right"] = sums.get("right", 0) + right
                    sums["total"] = sums.get("total", 0) + total
        silver = "   absent"
        reference = _silver_reference(args.realdata, _SILVER_CALL)
        audio_path = args.realdata / "audio" / f"{_SILVER_CALL}.wav"
        if reference and audio_path.exists():
            uri = await store.put(f"{_SILVER_CALL}.wav", audio_path.read_bytes(), "audio/wav")
            real_event = event_for(calls[0], uri, False).model_copy(
                update={
                    "call_id": _SILVER_CALL,
                    "recording_id": _SILVER_CALL,
                    "channel_roles": [
                        ChannelRole(channel=0, role=Role.CALLER),
                        ChannelRole(channel=1, role=Role.AGENT),
                    ],
                }
            )
            transcript = await stage.transcribe(real_event, ports)
            errs, words = word_errors(reference, " ".join(u.text for u in transcript.utterances))
            silver = f"{errs / max(words, 1):>9.3f}"
        batched = (
            await asyncio.to_thread(_batched, files.model, settings, calls, args.batched)
            if args.batched
            else ""
        )
        await engine.aclose()
    wer_dual = sums["dual.err"] / max(sums["dual.words"], 1)
    wer_mono = sums["mono.err"] / max(sums["mono.words"], 1)
    roles_mono = sums["right"] / max(sums["total"], 1)
    rtf = f"{statistics.mean(rtfs):.3f}/{max(rtfs):.3f}"
    cpu_rtf = f"{statistics.mean(cpu_rtfs):.3f}/{max(cpu_rtfs):.3f}"
    return f"{label}{wer_dual:>9.3f}{wer_mono:>9.3f}{silver}{roles_mono:>11.3f}   {rtf}   {cpu_rtf}{batched}"


def _batched(model_dir: str, settings: Any, calls: list[SyntheticCall], batch_size: int) -> str:
    """Plain vs batched faster-whisper on every channel of the calls: throughput and WER."""
    import numpy as np
    from faster_whisper import BatchedInferencePipeline, WhisperModel

    audio_mod = importlib.import_module("callpipe_transcriber.audio")
    model = WhisperModel(
        model_dir,
        device="cpu",
        compute_type=settings.whisper_compute_type,
        cpu_threads=settings.whisper_cpu_threads,
    )
    pipeline = BatchedInferencePipeline(model)
    common: dict[str, Any] = {
        "language": settings.language,
        "beam_size": settings.whisper_beam_size,
        "word_timestamps": True,
        "no_repeat_ngram_size": settings.whisper_no_repeat_ngram_size,
        "vad_filter": True,
    }
    results: dict[str, list[float]] = {"plain": [0, 0, 0, 0], "batched": [0, 0, 0, 0]}
    audio_s = 0.0
    for call in calls:
        decoded = audio_mod.decode_audio(call.stereo_path.read_bytes())
        for mapped in call.channel_roles:
            samples = np.ascontiguousarray(decoded.samples[mapped.channel])
            reference = " ".join(t.text for t in call.turns if t.role is mapped.role)
            audio_s += decoded.duration_s
            for name in ("plain", "batched"):
                wall, cpu = time.perf_counter(), time.process_time()
                if name == "plain":
                    segments, _ = model.transcribe(samples, condition_on_previous_text=False, **common)
                else:
                    segments, _ = pipeline.transcribe(samples, batch_size=batch_size, **common)
                text = " ".join(seg.text for seg in segments)  # the generator decodes lazily
                errs, words = word_errors(reference, text)
                acc = results[name]
                acc[0] += time.perf_counter() - wall
                acc[1] += time.process_time() - cpu
                acc[2] += errs
                acc[3] += words
    return "".join(
        f"\n    {name:<8} batch={batch_size if name == 'batched' else 1}: "
        f"{audio_s / acc[0]:.1f} audio s per wall s, {audio_s / acc[1]:.1f} per CPU s, "
        f"WER {acc[2] / max(acc[3], 1):.3f} (per channel, no pre-emphasis/gap fill)"
        for name, acc in results.items()
    )


async def _run(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="callpipe-tiers-") as tmp_name:
        tmp = Path(tmp_name)
        chosen = {
            "sample": SAMPLE_SCRIPTS,
            "heldout": HELDOUT_SCRIPTS,
            "all": SAMPLE_SCRIPTS + HELDOUT_SCRIPTS,
        }
        for script in chosen[args.scripts]:
            generate_call(script, tmp / "calls")
        calls = [SyntheticCall.load(p) for p in sorted((tmp / "calls").glob("*.json"))]
        print(f"synthetic calls: {len(calls)} ({args.scripts}); silver: {_SILVER_CALL} from {args.realdata}")
        print(
            f"{'model':<10}{'WER dual':>9}{'WER mono':>9}{'WER silv':>9}{'roles mono':>11}"
            "   RTF dual mean/max   cpuRTF@2"
        )
        for model in args.models.split(","):
            print(await _tier(model.strip(), args, calls, tmp), flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="callpipe bench transcriber --tiers", description=__doc__)
    parser.add_argument("--models", default="tiny.en,base,small")
    parser.add_argument("--scripts", choices=["sample", "heldout", "all"], default="sample")
    parser.add_argument("--realdata", type=Path, default=Path("../shared/realdata"))
    parser.add_argument(
        "--batched", type=int, default=0, help="also time BatchedInferencePipeline at this batch size"
    )
    return asyncio.run(_run(parser.parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
