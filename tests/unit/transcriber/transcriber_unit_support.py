"""Helpers for transcriber stage tests: real call audio, encoders, a fake engine, events.

Real speech comes from the committed sample call ``samples/calls/billing_dispute.wav`` (espeak-ng
voices, 8 kHz µ-law, one party per channel), cut to its first three turns so the real
faster-whisper engine transcribes it in a few seconds. Using the committed file keeps these tests
independent of espeak-ng being installed; its reference JSON gives the ground-truth turns.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from callpipe.models import CallMetadata, ChannelRole, Direction, RecordingReady, RecordingSource
from callpipe_tools.synthetic.calls import ReferenceTurn, SyntheticCall, write_wav
from callpipe_transcriber.engines.base import EngineRequest, EngineResult, EngineSegment

av = pytest.importorskip("av")

SAMPLES = Path(__file__).resolve().parents[3] / "samples" / "calls"
CLIP_END_S = 16.0  # billing_dispute: agent greeting, caller complaint, agent reply


@dataclass(frozen=True)
class Clip:
    """A real two-party call clip: int16 (frames, 2), 8 kHz, and its reference turns."""

    stereo: npt.NDArray[np.int16]
    rate: int
    turns: list[ReferenceTurn]
    channel_roles: list[ChannelRole]

    @property
    def mono(self) -> npt.NDArray[np.int16]:
        mixed = self.stereo.astype(np.int32).sum(axis=1)
        out: npt.NDArray[np.int16] = np.clip(mixed, -32768, 32767).astype(np.int16)
        return out

    @property
    def reference_text(self) -> str:
        return " ".join(t.text for t in self.turns)

    def wav(self, *, mono: bool = False, encoding: str = "pcm16", tmp: Path) -> bytes:
        path = tmp / f"clip-{'mono' if mono else 'dual'}-{encoding}.wav"
        write_wav(path, self.mono if mono else self.stereo, self.rate, encoding)  # type: ignore[arg-type]
        return path.read_bytes()

    def as_call(self) -> SyntheticCall:
        """A ``SyntheticCall`` view (for the eval's role-accuracy metric)."""
        return SyntheticCall(
            call_id="clip",
            sample_rate=self.rate,
            duration_s=len(self.stereo) / self.rate,
            stereo_path=Path("clip.wav"),
            mono_path=Path("clip.mono.wav"),
            script_path=Path("clip.json"),
            channel_roles=self.channel_roles,
            turns=self.turns,
        )


def _decode_s16(path: Path) -> tuple[npt.NDArray[np.int16], int]:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        rate = int(stream.codec_context.sample_rate)
        resampler = av.AudioResampler(format="s16p", layout=stream.codec_context.layout.name, rate=rate)
        chunks = [out.to_ndarray() for frame in container.decode(stream) for out in resampler.resample(frame)]
    return np.concatenate(chunks, axis=1).T.astype(np.int16), rate


def load_clip() -> Clip:
    call = SyntheticCall.load(SAMPLES / "billing_dispute.json")
    stereo, rate = _decode_s16(call.stereo_path)
    turns = [t for t in call.turns if t.end_s <= CLIP_END_S]
    assert len(turns) == 3, "the sample call changed: pick a new clip end"
    return Clip(stereo[: int(CLIP_END_S * rate)], rate, turns, call.channel_roles)


def encode(data: npt.NDArray[np.int16], rate: int, container: str, codec: str) -> bytes:
    """Encode (frames, channels) int16 with the FFmpeg encoders inside PyAV, in memory."""
    channels = data.shape[1]
    layout = "mono" if channels == 1 else "stereo"
    buf = io.BytesIO()
    with av.open(buf, "w", format=container) as out:
        stream = out.add_stream(codec, rate=rate, layout=layout)
        frame = av.AudioFrame.from_ndarray(data.reshape(1, -1), format="s16", layout=layout)
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    return buf.getvalue()


@dataclass
class FakeEngine:
    """Test-only engine: returns canned segments and records what the stage handed it."""

    segments: list[EngineSegment] = field(default_factory=list)
    diarized: bool = False
    language: str | None = "en"
    requests: list[EngineRequest] = field(default_factory=list)
    warmed_up: bool = False

    @property
    def name(self) -> str:
        return "fake"

    @property
    def model(self) -> str:
        return "fake-1"

    async def warm_up(self) -> None:
        self.warmed_up = True

    async def transcribe(self, request: EngineRequest) -> EngineResult:
        self.requests.append(request)
        return EngineResult(
            segments=list(self.segments), language=self.language, diarized=self.diarized, model=self.model
        )

    async def aclose(self) -> None:
        return None


def make_event(
    uri: str,
    *,
    channels: int = 2,
    roles: list[ChannelRole] | None = None,
    direction: Direction = Direction.INBOUND,
    call_id: str = "CA-test",
    content_type: str | None = "audio/wav",
) -> RecordingReady:
    return RecordingReady(
        call_id=call_id,
        recording_id="RE-test",
        source=RecordingSource.UPLOAD,
        audio_uri=uri,
        content_type=content_type,
        channel_count=channels,
        channel_roles=roles or [],
        metadata=CallMetadata(direction=direction),
        received_at=datetime(2025, 1, 1, tzinfo=UTC),
    )
