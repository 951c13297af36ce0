"""Fetch, Deepgram adapter, audio validation and role assignment, through httpx MockTransport."""

from __future__ import annotations

import io
import json
import wave
from pathlib import Path

import httpx
import numpy as np
import pytest
from pydantic import SecretStr

from callpipe.errors import (
    DependencyUnavailableError,
    InvalidInputError,
    RateLimitedError,
    TransientError,
)
from callpipe.models import ChannelRole, Direction, Role
from callpipe.store import LocalRecordingStore
from callpipe_transcriber.audio import decode_audio, is_silent
from callpipe_transcriber.engines.base import EngineRequest
from callpipe_transcriber.engines.deepgram import DeepgramEngine, DeepgramOptions, parse_deepgram_response
from callpipe_transcriber.fetch import AudioFetcher, FetchOptions, twilio_media_url
from callpipe_transcriber.roles import RoleCues, assign_roles, channel_roles_for
from tests.unit.transcriber.deepgram_bodies import DIARIZED, MULTICHANNEL, error_body


def _wav(seconds: float = 1.0, channels: int = 2, rate: int = 8000, amplitude: float = 0.3) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    tone = (amplitude * 32767 * np.sin(2 * np.pi * 220 * t)).astype("<i2")
    frames = np.stack([tone] * channels, axis=1)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames.tobytes())
    return buf.getvalue()


# ---- audio ---------------------------------------------------------------------------------
def test_decode_keeps_channels_and_resamples_8k_to_16k() -> None:
    audio = decode_audio(_wav(2.0))
    assert audio.channel_count == 2
    assert audio.source_rate == 8000
    assert audio.sample_rate == 16000
    assert audio.duration_s == pytest.approx(2.0, abs=0.02)
    assert not is_silent(audio)


@pytest.mark.parametrize("data", [b"", b"RIFF\x00\x00\x00\x00WAVEfmt ", b"\x00" * 4096, b"not audio at all"])
def test_undecodable_audio_is_invalid_input(data: bytes) -> None:
    with pytest.raises(InvalidInputError):
        decode_audio(data)


def test_truncated_wav_header_is_invalid_input() -> None:
    with pytest.raises(InvalidInputError):
        decode_audio(_wav()[:40])


def test_silence_is_detected() -> None:
    assert is_silent(decode_audio(_wav(amplitude=0.0)))


# ---- fetch ---------------------------------------------------------------------------------
def test_twilio_recording_url_gets_wav_variant() -> None:
    base = "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE123"
    assert twilio_media_url(base) == base + ".wav"
    assert twilio_media_url(base + ".mp3") == base + ".mp3"
    assert twilio_media_url("https://example.com/rec") == "https://example.com/rec"


async def _fetch(handler: httpx.MockTransport, tmp_path: Path, **opts: object) -> tuple[bytes, str | None]:
    async with httpx.AsyncClient(transport=handler) as client:
        options = FetchOptions(backoff_initial_s=0.001, **opts)  # type: ignore[arg-type]
        return await AudioFetcher(client, LocalRecordingStore(tmp_path), options).fetch(
            "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1"
        )


async def test_fetch_uses_twilio_basic_auth_and_retries_5xx(tmp_path: Path) -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 1:
            return httpx.Response(503)
        return httpx.Response(200, content=b"RIFFdata", headers={"content-type": "audio/x-wav"})

    data, ctype = await _fetch(
        httpx.MockTransport(handler), tmp_path, twilio_account_sid="AC1", twilio_auth_token=SecretStr("tok")
    )
    assert data == b"RIFFdata"
    assert ctype == "audio/x-wav"
    assert len(calls) == 2
    assert calls[-1].url.path.endswith("RE1.wav")
    assert calls[-1].headers["authorization"].startswith("Basic ")


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (404, InvalidInputError),
        (401, DependencyUnavailableError),
        (429, RateLimitedError),
        (500, TransientError),
    ],
)
async def test_fetch_status_maps_to_error_class(tmp_path: Path, status: int, error: type[Exception]) -> None:
    transport = httpx.MockTransport(lambda r: httpx.Response(status, headers={"retry-after": "7"}))
    with pytest.raises(error) as info:
        await _fetch(transport, tmp_path, attempts=1)
    if status == 429:
        assert info.value.retry_after == 7.0  # type: ignore[attr-defined]


async def test_fetch_enforces_size_limit(tmp_path: Path) -> None:
    transport = httpx.MockTransport(lambda r: httpx.Response(200, content=b"x" * 5000))
    with pytest.raises(InvalidInputError, match="limit"):
        await _fetch(transport, tmp_path, max_bytes=1000)


# ---- Deepgram ------------------------------------------------------------------------------
def test_parse_multichannel_response() -> None:
    result = parse_deepgram_response(MULTICHANNEL, multichannel=True, model="nova-3")
    assert [(s.channel, s.text) for s in result.segments] == [
        (1, "Thank you for calling."),
        (0, "I was charged twice."),
    ]
    assert result.segments[0].words[0].word == "Thank"
    assert not result.diarized


def test_parse_diarized_response() -> None:
    result = parse_deepgram_response(DIARIZED, multichannel=False, model="nova-3")
    assert result.diarized
    assert [s.speaker for s in result.segments] == ["spk0", "spk1"]
    assert result.language == "en"


# deepgram-sdk imports websockets' legacy module, which warns on import (filterwarnings=error).
pytestmark_dg = pytest.mark.filterwarnings("ignore:websockets:DeprecationWarning")


async def _dg(handler: httpx.MockTransport, multichannel: bool) -> object:
    audio = decode_audio(_wav(1.0, channels=2 if multichannel else 1))
    async with httpx.AsyncClient(transport=handler) as client:
        engine = DeepgramEngine(DeepgramOptions(api_key=SecretStr("dg-key")), http=client)
        return await engine.transcribe(
            EngineRequest(
                data=b"RIFF",
                content_type="audio/wav",
                audio=audio,
                multichannel=multichannel,
                language="en",
                keyterms=("Northwind",),
            )
        )


@pytestmark_dg
async def test_deepgram_request_parameters_and_auth() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=MULTICHANNEL)

    result = await _dg(httpx.MockTransport(handler), multichannel=True)
    req = seen[0]
    assert req.url.path == "/v1/listen"
    assert req.headers["authorization"] == "Token dg-key"
    params = req.url.params
    assert params["model"] == "nova-3"
    assert params["multichannel"] == "true"
    assert "diarize" not in params
    assert params["utterances"] == "true"
    assert params["smart_format"] == "true"
    assert params["keyterm"] == "Northwind"
    assert params["language"] == "en"
    assert req.content == b"RIFF"
    assert len(result.segments) == 2  # type: ignore[attr-defined]


@pytestmark_dg
async def test_deepgram_mono_asks_for_diarization() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=DIARIZED)

    await _dg(httpx.MockTransport(handler), multichannel=False)
    assert seen[0].url.params["diarize"] == "true"
    assert "multichannel" not in seen[0].url.params


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (429, RateLimitedError),
        (500, TransientError),
        (502, TransientError),
        (503, TransientError),
        (401, DependencyUnavailableError),
        (402, DependencyUnavailableError),
        (400, InvalidInputError),
    ],
)
async def test_deepgram_errors_translate(status: int, error: type[Exception]) -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(status, headers={"retry-after": "3"}, json=error_body(status))

    with pytest.raises(error) as info:
        await _dg(httpx.MockTransport(handler), multichannel=True)
    assert len(calls) == 1  # the SDK's own retries are off: the runner owns retry policy
    if status == 429:
        assert info.value.retry_after == 3.0  # type: ignore[attr-defined]


# ---- roles ---------------------------------------------------------------------------------
def test_twilio_channel_convention_by_direction() -> None:
    assert channel_roles_for(2, [], Direction.INBOUND) == {0: Role.CALLER, 1: Role.AGENT}
    assert channel_roles_for(2, [], Direction.OUTBOUND) == {0: Role.AGENT, 1: Role.CALLER}
    assert channel_roles_for(2, [], Direction.UNKNOWN) is None
    mapped = [ChannelRole(channel=0, role=Role.AGENT), ChannelRole(channel=1, role=Role.CALLER)]
    assert channel_roles_for(2, mapped, Direction.INBOUND) == {0: Role.AGENT, 1: Role.CALLER}


def test_agent_found_by_greeting_even_when_caller_speaks_first() -> None:
    speech = [
        ("spk0", 0.0, "Hello? Is this the delivery service? My parcel has not arrived."),
        ("spk1", 4.0, "Yes, you have reached Wingtip Deliveries, my name is James. I can help with that."),
    ]
    result = assign_roles(speech, RoleCues())
    assert result.roles == {"spk0": Role.CALLER, "spk1": Role.AGENT}
    assert not result.low_confidence


def test_no_cues_is_flagged_low_confidence() -> None:
    result = assign_roles([("spk0", 0.0, "yes"), ("spk1", 1.0, "okay")], RoleCues(first_speaker_weight=0.0))
    assert result.low_confidence
    assert result.confidence <= 0.5


def test_poor_diarization_lowers_confidence() -> None:
    speech = [("spk0", 0.0, "Thank you for calling, my name is Ann."), ("spk1", 3.0, "I want to cancel.")]
    assert not assign_roles(speech, RoleCues()).low_confidence
    assert assign_roles(speech, RoleCues(), diarization_quality=0.4).low_confidence


@pytestmark_dg
async def test_deepgram_cut_off_body_is_transient() -> None:
    # A 200 whose JSON stops half way (a proxy closing early) is worth asking again.
    body = json.dumps(MULTICHANNEL).encode()
    transport = httpx.MockTransport(
        lambda request: httpx.Response(
            200, content=body[: len(body) // 2], headers={"content-type": "application/json"}
        )
    )
    with pytest.raises(TransientError, match="not valid JSON"):
        await _dg(transport, multichannel=True)
