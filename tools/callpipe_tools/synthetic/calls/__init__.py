"""Synthetic calls for demos, tests and the transcriber eval: espeak-ng voices, one party per
channel, a known script with exact turn timings, 8 kHz telephone audio.

    from callpipe_tools.synthetic.calls import generate_call, sample_script
    call = generate_call(sample_script("billing_dispute"), Path("out"))
    call.stereo_path, call.mono_path, call.turns   # dual-channel WAV, mono mix, reference

``python -m callpipe_tools.synthetic.calls OUT_DIR [--encoding mulaw]`` writes every built-in script.
Needs the Debian packages espeak-ng and sox.
"""

from callpipe_tools.synthetic.calls._generate import SynthesisError, generate_call
from callpipe_tools.synthetic.calls._script import CallScript, ReferenceTurn, ScriptTurn, SyntheticCall, Voice
from callpipe_tools.synthetic.calls._wav import mulaw_encode, pad_with_silence, write_wav
from callpipe_tools.synthetic.calls.scripts import HELDOUT_SCRIPTS, SAMPLE_SCRIPTS, sample_script

__all__ = [
    "HELDOUT_SCRIPTS",
    "SAMPLE_SCRIPTS",
    "CallScript",
    "ReferenceTurn",
    "ScriptTurn",
    "SynthesisError",
    "SyntheticCall",
    "Voice",
    "generate_call",
    "mulaw_encode",
    "pad_with_silence",
    "sample_script",
    "write_wav",
]
