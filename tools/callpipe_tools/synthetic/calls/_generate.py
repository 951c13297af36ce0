"""Synthesize a call from a script with espeak-ng (one voice per party) and sox (resampling).

Each turn is spoken by the party's voice, trimmed of espeak's own leading/trailing silence and
placed on that party's channel at a known time. The result is what a telephony platform records:
a dual-channel WAV (one party per channel, 8 kHz by default), the mono mix of the same call (what
a single-channel recorder gives) and the reference transcript with turn timings.

Requires the Debian packages ``espeak-ng`` and ``sox``.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import numpy.typing as npt

from callpipe.models import ChannelRole, Role
from callpipe_tools.synthetic.calls._script import CallScript, ReferenceTurn, SyntheticCall, Voice
from callpipe_tools.synthetic.calls._wav import WavEncoding, read_wav_pcm16, write_wav

__all__ = ["SynthesisError", "generate_call"]

_TTS_RATE = 22050  # espeak-ng's native output rate
_TRIM_THRESHOLD = 80  # |sample| below this (int16) counts as silence when trimming espeak output


class SynthesisError(RuntimeError):
    """espeak-ng or sox is missing or failed."""


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise SynthesisError(f"{name} not found: install the Debian packages espeak-ng and sox")
    return path


def _speak(text: str, voice: Voice, workdir: Path, index: int) -> npt.NDArray[np.int16]:
    out = workdir / f"turn{index:03d}.wav"
    cmd = [
        _tool("espeak-ng"),
        "-v",
        voice.name,
        "-s",
        str(voice.speed_wpm),
        "-p",
        str(voice.pitch),
        "-w",
        str(out),
        text,
    ]
    result = subprocess.run(cmd, capture_output=True, check=False, timeout=60)  # noqa: S603
    if result.returncode != 0 or not out.exists():
        raise SynthesisError(f"espeak-ng failed for {voice.name}: {result.stderr.decode(errors='replace')}")
    samples, rate = read_wav_pcm16(out)
    if rate != _TTS_RATE:
        raise SynthesisError(f"espeak-ng wrote {rate} Hz, expected {_TTS_RATE}")
    mono = samples[:, 0]
    loud = np.flatnonzero(np.abs(mono.astype(np.int32)) > _TRIM_THRESHOLD)
    if loud.size == 0:
        raise SynthesisError(f"espeak-ng produced silence for {text!r}")
    return mono[loud[0] : loud[-1] + 1]


def _resample(
    samples: npt.NDArray[np.int16], rate: int, target: int, workdir: Path, name: str
) -> npt.NDArray[np.int16]:
    if rate == target:
        return samples
    src, dst = workdir / f"{name}-in.wav", workdir / f"{name}-out.wav"
    write_wav(src, samples, rate)
    # sox's 'rate' effect is a high-quality polyphase resampler with its own anti-alias filter;
    # the telephone band limit (3.4 kHz at 8 kHz) follows from the Nyquist limit.
    # -R: sox dithers the 16-bit output with random noise, seeded differently on every run unless
    # told to repeat itself; without it the same script gave different bytes on every generation
    # and the eval's WER moved by ±0.01-0.02 per call between identical runs.
    cmd = [_tool("sox"), "-R", str(src), "-r", str(target), "-b", "16", str(dst), "rate", "-h"]
    result = subprocess.run(cmd, capture_output=True, check=False, timeout=120)  # noqa: S603
    if result.returncode != 0:
        raise SynthesisError(f"sox failed: {result.stderr.decode(errors='replace')}")
    out, _ = read_wav_pcm16(dst)
    return out[:, 0]


def generate_call(
    script: CallScript,
    out_dir: Path,
    sample_rate: int = 8000,
    *,
    encoding: WavEncoding = "pcm16",
    noise_dbfs: float | None = None,
    seed: int = 0,
) -> SyntheticCall:
    """Write ``<call_id>.wav`` (dual-channel), ``<call_id>.mono.wav`` and ``<call_id>.json``.

    ``noise_dbfs`` adds white noise at that level to each channel (line noise); ``seed`` makes it
    reproducible. The reference turn times are exact: they are where the samples were placed.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="callpipe-synth-") as tmp:
        workdir = Path(tmp)
        clips = [
            _speak(
                turn.text, script.agent_voice if turn.role is Role.AGENT else script.caller_voice, workdir, i
            )
            for i, turn in enumerate(script.turns)
        ]
        starts: list[int] = []
        cursor = int(script.lead_in_s * _TTS_RATE)
        for turn, clip in zip(script.turns, clips, strict=True):
            start = max(0, cursor + int(turn.gap_before_s * _TTS_RATE)) if starts else cursor
            starts.append(start)
            cursor = max(cursor, start + len(clip))
        total = cursor + int(script.tail_s * _TTS_RATE)
        channels = np.zeros((total, 2), dtype=np.int32)
        for turn, clip, start in zip(script.turns, clips, starts, strict=True):
            channels[start : start + len(clip), script.channel_of(turn.role)] += clip
        stereo16 = np.clip(channels, -32768, 32767).astype(np.int16)
        resampled = np.stack(
            [_resample(stereo16[:, ch], _TTS_RATE, sample_rate, workdir, f"ch{ch}") for ch in (0, 1)],
            axis=1,
        )
    if noise_dbfs is not None:
        rng = np.random.default_rng(seed)
        noise = rng.normal(0.0, 32768 * 10 ** (noise_dbfs / 20), size=resampled.shape)
        resampled = np.clip(resampled + noise, -32768, 32767).astype(np.int16)
    # The mono mix sums both parties, like a single-channel recorder on the line.
    mono = np.clip(resampled.astype(np.int32).sum(axis=1), -32768, 32767).astype(np.int16)

    stereo_path = out_dir / f"{script.call_id}.wav"
    mono_path = out_dir / f"{script.call_id}.mono.wav"
    script_path = out_dir / f"{script.call_id}.json"
    write_wav(stereo_path, resampled, sample_rate, encoding)
    write_wav(mono_path, mono, sample_rate, encoding)

    turns = [
        ReferenceTurn(
            role=turn.role,
            channel=script.channel_of(turn.role),
            start_s=round(start / _TTS_RATE, 3),
            end_s=round((start + len(clip)) / _TTS_RATE, 3),
            text=turn.text,
        )
        for turn, clip, start in zip(script.turns, clips, starts, strict=True)
    ]
    call = SyntheticCall(
        call_id=script.call_id,
        sample_rate=sample_rate,
        duration_s=round(len(resampled) / sample_rate, 3),
        stereo_path=stereo_path,
        mono_path=mono_path,
        script_path=script_path,
        channel_roles=[ChannelRole(channel=script.channel_of(r), role=r) for r in (Role.CALLER, Role.AGENT)],
        turns=turns,
        keyterms=list(script.keyterms),
    )
    # Paths in the JSON are file names: the folder can be moved (samples/calls/ is committed).
    relative = call.model_copy(
        update={
            "stereo_path": Path(stereo_path.name),
            "mono_path": Path(mono_path.name),
            "script_path": Path(script_path.name),
        }
    )
    script_path.write_text(relative.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return call
