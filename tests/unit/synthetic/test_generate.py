"""The synthetic-call generator writes what its reference says (needs espeak-ng and sox)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from callpipe.models import Role
from callpipe_tools.synthetic.calls import CallScript, ScriptTurn, SyntheticCall, generate_call, mulaw_encode
from callpipe_tools.synthetic.calls._wav import read_wav_pcm16

pytestmark = pytest.mark.skipif(
    shutil.which("espeak-ng") is None or shutil.which("sox") is None,
    reason="needs the Debian packages espeak-ng and sox",
)

SCRIPT = CallScript(
    call_id="t1",
    turns=[
        ScriptTurn(role=Role.AGENT, text="Thank you for calling, how can I help?"),
        ScriptTurn(role=Role.CALLER, text="My bill is wrong.", gap_before_s=1.0),
    ],
)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) if x.size else 0.0


def test_each_party_is_on_its_own_channel_at_the_reference_times(tmp_path: Path) -> None:
    call = generate_call(SCRIPT, tmp_path)
    audio, rate = read_wav_pcm16(call.stereo_path)
    assert rate == 8000
    assert audio.shape[1] == 2
    agent, caller = call.turns
    assert (agent.role, agent.channel, caller.channel) == (Role.AGENT, 1, 0)
    assert caller.start_s == pytest.approx(agent.end_s + 1.0, abs=0.01)

    def seg(ch: int, start: float, end: float) -> np.ndarray:
        return audio[int(start * rate) : int(end * rate), ch]

    # Agent speech on channel 1 only while the agent speaks; channel 0 silent then.
    assert _rms(seg(1, agent.start_s, agent.end_s)) > 500
    assert _rms(seg(0, agent.start_s, agent.end_s)) < 5
    assert _rms(seg(0, caller.start_s, caller.end_s)) > 500
    assert _rms(seg(1, caller.start_s, caller.end_s)) < 5
    # Silence in the gap on both channels.
    assert _rms(seg(0, agent.end_s + 0.1, caller.start_s - 0.1)) < 5
    assert call.duration_s == pytest.approx(len(audio) / rate, abs=0.01)


def test_mono_mix_is_sum_of_channels(tmp_path: Path) -> None:
    call = generate_call(SCRIPT, tmp_path)
    stereo, _ = read_wav_pcm16(call.stereo_path)
    mono, _ = read_wav_pcm16(call.mono_path)
    assert mono.shape == (len(stereo), 1)
    np.testing.assert_array_equal(mono[:, 0], stereo.astype(np.int32).sum(axis=1).clip(-32768, 32767))


def test_reference_json_round_trips_with_relative_paths(tmp_path: Path) -> None:
    call = generate_call(SCRIPT, tmp_path / "a")
    moved = tmp_path / "b"
    shutil.move(tmp_path / "a", moved)
    loaded = SyntheticCall.load(moved / "t1.json")
    assert loaded.turns == call.turns
    assert loaded.stereo_path == moved / "t1.wav"
    assert loaded.stereo_path.exists()
    assert loaded.role_text(Role.CALLER) == "My bill is wrong."


def test_mulaw_wav_decodes_close_to_pcm(tmp_path: Path) -> None:
    av = pytest.importorskip("av")
    call = generate_call(SCRIPT, tmp_path / "pcm")
    ulaw = generate_call(SCRIPT, tmp_path / "ulaw", encoding="mulaw")
    pcm, _ = read_wav_pcm16(call.stereo_path)
    with av.open(str(ulaw.stereo_path)) as container:
        stream = container.streams.audio[0]
        assert stream.codec_context.name == "pcm_mulaw"
        decoded = np.concatenate([f.to_ndarray() for f in container.decode(stream)], axis=1)
    decoded = decoded.reshape(-1, 2) if decoded.shape[0] == 1 else decoded.T
    assert decoded.shape == pcm.shape
    # µ-law keeps ~2-4 % relative error on loud samples: compare signal-to-error ratio.
    err = decoded.astype(np.float64) - pcm
    assert _rms(err) < 0.05 * _rms(pcm)


def test_mulaw_encode_known_values() -> None:
    # ITU G.711 reference points: 0 → 0xFF, full-scale positive → 0x80, negative → 0x00.
    out = mulaw_encode(np.array([0, 32767, -32768, -1], dtype=np.int16))
    assert out.tolist() == [0xFF, 0x80, 0x00, 0x7F]
