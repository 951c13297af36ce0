"""Deepgram for real: runs only when DEEPGRAM_API_KEY is set (a paid API; never faked here).

The adapter's request and response handling is unit-tested against documented bodies through
httpx.MockTransport (tests/unit/transcriber/test_adapters.py); this test proves the same code
path against the live service: multichannel for dual-channel audio, diarization for mono.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import SecretStr

from callpipe.models import Role, TranscriptStatus
from callpipe.store import LocalRecordingStore
from tests.integration.transcriber.transcriber_it_support import clip_wav, recording_event

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(not os.environ.get("DEEPGRAM_API_KEY"), reason="DEEPGRAM_API_KEY is not set"),
    pytest.mark.filterwarnings("ignore:websockets:DeprecationWarning"),
]


async def test_live_deepgram_dual_channel_and_mono(tmp_path: Path) -> None:
    import httpx

    from callpipe_transcriber.engines.deepgram import DeepgramEngine, DeepgramOptions
    from callpipe_transcriber.fetch import AudioFetcher, FetchOptions
    from callpipe_transcriber.stage import TranscriberPorts, transcribe

    store = LocalRecordingStore(tmp_path / "store")
    dual = clip_wav(tmp_path / "clip.wav")
    async with httpx.AsyncClient(timeout=120) as http:
        engine = DeepgramEngine(DeepgramOptions(api_key=SecretStr(os.environ["DEEPGRAM_API_KEY"])), http=http)
        ports = TranscriberPorts(
            fetcher=AudioFetcher(http, store, FetchOptions()),
            store=store,
            engine=engine,
            language="en",
            keyterms=("Northwind",),
        )
        uri = await store.put("CA-live/RE.wav", dual, "audio/wav")
        transcript = await transcribe(recording_event("CA-live", uri), ports)
        assert transcript.status is TranscriptStatus.OK
        assert transcript.engine == "deepgram" and transcript.model == "nova-3"
        assert {u.channel for u in transcript.utterances} == {0, 1}
        assert transcript.utterances[0].role is Role.AGENT
        assert "calling" in transcript.utterances[0].text.lower()
        assert all(u.words for u in transcript.utterances)

        # The mono mix: Deepgram diarizes, roles come from the cues.
        import av
        import numpy as np

        from callpipe_tools.synthetic.calls import write_wav

        with av.open(str(tmp_path / "clip.wav")) as container:
            frames = [f.to_ndarray() for f in container.decode(audio=0)]
        stereo = np.concatenate(frames, axis=1).reshape(-1, 2).astype(np.int32)
        write_wav(tmp_path / "mono.wav", np.clip(stereo.sum(axis=1), -32768, 32767).astype(np.int16), 8000)
        mono_uri = await store.put("CA-live-mono/RE.wav", (tmp_path / "mono.wav").read_bytes(), "audio/wav")
        event = recording_event("CA-live-mono", mono_uri).model_copy(
            update={"channel_count": 1, "channel_roles": []}
        )
        mono = await transcribe(event, ports)
        assert mono.status is TranscriptStatus.OK
        assert {u.role for u in mono.utterances} == {Role.AGENT, Role.CALLER}
        assert mono.utterances[0].role is Role.AGENT
