"""The script of a synthetic call and the reference (ground truth) the generator writes with it."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from callpipe.models import ChannelRole, Role

__all__ = ["CallScript", "ReferenceTurn", "ScriptTurn", "SyntheticCall", "Voice"]


class Voice(BaseModel):
    """An espeak-ng voice: the two parties get clearly different voices, like two real people."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(description="espeak-ng voice, e.g. 'en-us+f3' (language + variant).")
    speed_wpm: int = Field(default=160, ge=80, le=400)
    pitch: int = Field(default=50, ge=0, le=99)


DEFAULT_AGENT_VOICE = Voice(name="en-us+f3", speed_wpm=165, pitch=60)
DEFAULT_CALLER_VOICE = Voice(name="en-gb+m3", speed_wpm=150, pitch=35)


class ScriptTurn(BaseModel):
    """One line of the script."""

    model_config = ConfigDict(frozen=True)

    role: Role
    text: str = Field(min_length=1)
    # Silence before this turn starts, after the previous turn ended; negative = overlap (barge-in).
    gap_before_s: float = Field(default=0.5, ge=-3.0, le=30.0)


class CallScript(BaseModel):
    """A call to synthesize: who says what, in order."""

    model_config = ConfigDict(frozen=True)

    call_id: str
    turns: list[ScriptTurn] = Field(min_length=1)
    agent_voice: Voice = DEFAULT_AGENT_VOICE
    caller_voice: Voice = DEFAULT_CALLER_VOICE
    # Twilio's dual-channel convention for an inbound <Dial>: channel 0 is the parent call leg
    # (the caller), channel 1 the dialed leg (the agent).
    agent_channel: int = Field(default=1, ge=0, le=1)
    lead_in_s: float = Field(default=0.6, ge=0.0, description="Silence before the first turn.")
    tail_s: float = Field(default=0.8, ge=0.0, description="Silence after the last turn.")
    keyterms: list[str] = Field(
        default_factory=list,
        description="The call center's custom vocabulary (its brand name), as it would configure it.",
    )

    def channel_of(self, role: Role) -> int:
        return self.agent_channel if role is Role.AGENT else 1 - self.agent_channel


class ReferenceTurn(BaseModel):
    """Ground truth of one turn as placed in the audio."""

    model_config = ConfigDict(frozen=True)

    role: Role
    channel: int
    start_s: float
    end_s: float
    text: str


class SyntheticCall(BaseModel):
    """What ``generate_call`` wrote: the audio files and the reference transcript."""

    model_config = ConfigDict(frozen=True)

    call_id: str
    sample_rate: int
    duration_s: float
    stereo_path: Path = Field(description="Dual-channel WAV, one party per channel.")
    mono_path: Path = Field(description="Mono mix of both parties.")
    script_path: Path = Field(description="This object as JSON (the reference).")
    channel_roles: list[ChannelRole]
    turns: list[ReferenceTurn]
    keyterms: list[str] = Field(default_factory=list, description="The script's configured vocabulary.")

    @property
    def reference_text(self) -> str:
        return " ".join(turn.text for turn in self.turns)

    def role_text(self, role: Role) -> str:
        return " ".join(turn.text for turn in self.turns if turn.role is role)

    @classmethod
    def load(cls, script_path: Path) -> SyntheticCall:
        """Read the reference JSON written next to the audio (paths relative to its folder)."""
        call = cls.model_validate_json(script_path.read_text(encoding="utf-8"))
        base = script_path.parent
        return call.model_copy(
            update={
                "stereo_path": base / call.stereo_path.name,
                "mono_path": base / call.mono_path.name,
                "script_path": script_path,
            }
        )
