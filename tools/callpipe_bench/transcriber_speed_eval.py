"""Transcriber speed on a 5-minute real call, in CPU time (process time), not wall time.

    ./dev bench transcriber --speed [--realdata DIR] [--duration-s 300] [--cores 2]
                                    [--batch N] [--blas-threads N|0] [--no-segmentation] [--stage]

The machine this runs on is usually shared and loaded, so the wall clock says more about the
neighbours than about the code: every figure here is ``time.process_time()`` (all threads of this
process), and ``cpuRTF@N`` = CPU seconds / (audio seconds × N cores) — the wall RTF the work would
have on N idle cores if it spread over them perfectly. ``CPU/audio`` (one core) is printed too.

Audio: ``AWS_AutoRepairs40.wav`` from ``../shared/realdata/audio`` (a real two-party call),
mixed to mono and repeated up to ``--duration-s``. Without the real data a synthetic call is used
and the line says so.

- ``diarize``: ``callpipe_transcriber.diarize.diarize`` alone (the model loaded beforehand, as the
  service does at its first call), with its default options or ``--batch`` / ``--blas-threads``
  (0 = no limit: the behaviour before the thread cap) to compare against; ``--no-segmentation``
  leaves out the segmentation network (overlap spans, the second look at one-voice calls).
- ``--stage``: the whole transcriber stage (decode, channel analysis, Whisper with the configured
  ``TRANSCRIBER_*`` settings, diarization or bleed filtering, roles) on the mono mix and on the
  stereo original, also in CPU time.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from callpipe.models import CallMetadata, Direction, RecordingReady, RecordingSource
from callpipe.store import LocalRecordingStore
from callpipe_bench.transcriber_real_eval import wav_bytes

__all__ = ["main"]

_CALL = "AWS_AutoRepairs40.wav"


def _stereo(realdata: Path, duration_s: float) -> tuple[npt.NDArray[np.float32], str]:
    audio_mod = importlib.import_module("callpipe_transcriber.audio")
    path = realdata / "audio" / _CALL
    if path.is_file():
        source = f"real call {_CALL}"
        samples = audio_mod.decode_audio(path.read_bytes()).samples
    else:
        synthetic = importlib.import_module("callpipe_tools.synthetic.calls")
        tmp = Path(tempfile.mkdtemp(prefix="callpipe-speed-"))
        call = synthetic.generate_call(synthetic.SAMPLE_SCRIPTS[0], tmp)
        source = f"SYNTHETIC call {call.call_id} (real data absent)"
        samples = audio_mod.decode_audio(call.stereo_path.read_bytes()).samples
    need = int(duration_s * 16000)
    reps = -(-need // samples.shape[1])
    tiled: npt.NDArray[np.float32] = np.tile(samples, (1, reps))[:, :need].astype(np.float32)
    return tiled, source


def _line(label: str, cpu_s: float, duration_s: float, cores: int, extra: str = "") -> None:
    print(
        f"{label}: CPU {cpu_s:.2f} s for {duration_s:.0f} s audio  CPU/audio {cpu_s / duration_s:.4f}  "
        f"cpuRTF@{cores} {cpu_s / (duration_s * cores):.4f}{extra}"
    )


async def _stage(stereo: npt.NDArray[np.float32], duration_s: float, cores: int) -> None:
    import httpx

    factory = importlib.import_module("callpipe_transcriber.engines.factory")
    fetch = importlib.import_module("callpipe_transcriber.fetch")
    stage = importlib.import_module("callpipe_transcriber.stage")
    tsettings = importlib.import_module("callpipe_transcriber.settings")
    settings = tsettings.TranscriberSettings()
    with tempfile.TemporaryDirectory(prefix="callpipe-speed-") as tmp:
        store = LocalRecordingStore(Path(tmp) / "store")
        async with httpx.AsyncClient() as http:
            engine = factory.build_engine(settings, http)
            warm = getattr(engine, "warm_up", None)
            if warm is not None:
                await warm()
            ports = stage.TranscriberPorts(
                fetcher=fetch.AudioFetcher(http, store, fetch.FetchOptions()), store=store, engine=engine
            )
            mono = stereo.mean(axis=0, keepdims=True).astype(np.float32)
            for mode, samples in (("mono", mono), ("stereo", stereo)):
                uri = await store.put(f"speed/{mode}.wav", wav_bytes(samples, 16000), "audio/wav")
                event = RecordingReady(
                    call_id=f"speed-{mode}",
                    recording_id=f"speed-{mode}",
                    source=RecordingSource.UPLOAD,
                    audio_uri=uri,
                    content_type="audio/wav",
                    channel_count=samples.shape[0],
                    metadata=CallMetadata(direction=Direction.UNKNOWN),
                    received_at=datetime.now(UTC),
                )
                started = time.process_time()
                transcript = await stage.transcribe(event, replace(ports))
                cpu = time.process_time() - started
                _line(
                    f"stage {mode} ({settings.whisper_model})",
                    cpu,
                    duration_s,
                    cores,
                    f"  utterances {len(transcript.utterances)} single_speaker {transcript.single_speaker}",
                )
            await engine.aclose()


def _run(args: Any) -> int:
    diarize_mod = importlib.import_module("callpipe_transcriber.diarize")
    embedding = importlib.import_module("callpipe_transcriber.speaker_embedding")
    stereo, source = _stereo(args.realdata, args.duration_s)
    duration_s = stereo.shape[1] / 16000
    print(f"audio: {source}, {duration_s:.0f} s; figures are process CPU time (all threads), not wall")
    options = diarize_mod.DiarizationOptions()
    if args.batch:
        options = replace(options, batch=args.batch)
    if args.blas_threads is not None:
        options = replace(options, blas_threads=args.blas_threads or None)
    if args.no_segmentation:
        options = replace(options, segmentation=False)
    embedding.load_campplus()
    importlib.import_module("callpipe_transcriber.speaker_segmentation").load_segmentation()
    mono = stereo.mean(axis=0).astype(np.float32)
    started = time.process_time()
    result = diarize_mod.diarize(mono, 16000, options)
    cpu = time.process_time() - started
    segmentation = f"every {options.segmentation_step_s} s" if options.segmentation else "off"
    _line(
        f"diarize (batch {options.batch}, blas threads {options.blas_threads or 'unlimited'}, "
        f"segmentation {segmentation})",
        cpu,
        duration_s,
        args.cores,
        f"  speakers {result.speakers} turns {len(result.turns)} overlaps {len(result.overlaps)}",
    )
    if args.stage:
        asyncio.run(_stage(stereo, duration_s, args.cores))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="callpipe bench transcriber --speed", description=__doc__)
    parser.add_argument("--realdata", type=Path, default=Path("../shared/realdata"))
    parser.add_argument("--duration-s", type=float, default=300.0)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--batch", type=int, default=None, help="windows per network batch")
    parser.add_argument("--blas-threads", type=int, default=None, help="BLAS threads; 0 = no limit")
    parser.add_argument(
        "--no-segmentation",
        action="store_true",
        help="diarize without the segmentation network (as before it)",
    )
    parser.add_argument("--stage", action="store_true", help="also time the whole stage, mono and stereo")
    return _run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
