"""Helpers for transcriber integration tests: a real two-party clip, events, reading topics."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import av
import numpy as np
from confluent_kafka import Message

from callpipe.models import CallMetadata, ChannelRole, Direction, RecordingReady, RecordingSource, Role
from callpipe_tools.synthetic.calls import write_wav
from tests.integration import kafka_support

SAMPLES = Path(__file__).resolve().parents[3] / "samples" / "calls"
ROLES = [ChannelRole(channel=0, role=Role.CALLER), ChannelRole(channel=1, role=Role.AGENT)]


def clip_wav(out: Path, seconds: float = 16.0) -> bytes:
    """The first ``seconds`` of the committed billing_dispute sample (agent greeting, caller
    complaint, agent reply; ch0 caller, ch1 agent) as a PCM16 8 kHz dual-channel WAV."""
    with av.open(str(SAMPLES / "billing_dispute.wav")) as container:
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="s16p", layout="stereo", rate=8000)
        planes = [o.to_ndarray() for f in container.decode(stream) for o in resampler.resample(f)]
    stereo = np.concatenate(planes, axis=1).T[: int(seconds * 8000)].astype(np.int16)
    write_wav(out, stereo, 8000)
    return out.read_bytes()


def recording_event(call_id: str, uri: str) -> RecordingReady:
    return RecordingReady(
        call_id=call_id,
        recording_id="RE" + call_id,
        source=RecordingSource.UPLOAD,
        audio_uri=uri,
        content_type="audio/wav",
        channel_count=2,
        channel_roles=ROLES,
        metadata=CallMetadata(direction=Direction.INBOUND),
        received_at=datetime.now(UTC),
    )


def produce(bootstrap: str, topic: str, records: list[tuple[str, bytes]]) -> None:
    kafka_support.produce(bootstrap, topic, records)


def read_topic(bootstrap: str, topic: str, *, expect: int, timeout_s: float) -> list[Message]:
    """Records of ``topic`` from the start: waits for ``expect``, then a short grace read."""
    return kafka_support.read_topic(bootstrap, topic, expect, timeout_s, grace_s=1.0)


def headers_of(message: Message) -> dict[str, str]:
    out: dict[str, str] = {}
    for header in message.headers() or []:
        name, value = header[0], header[1]
        out[str(name)] = value.decode() if isinstance(value, bytes) else str(value or "")
    return out


def key_of(message: Message) -> str:
    key = message.key()
    assert key is not None
    return key.decode() if isinstance(key, bytes) else str(key)


def value_of(message: Message) -> bytes:
    value = message.value()
    assert isinstance(value, bytes)
    return value
