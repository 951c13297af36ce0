"""A speech engine wrapper that caches results on disk, for evals that iterate on what follows STT.

Channel analysis, diarization and role assignment run after the engine; iterating on them should
not re-run Whisper. Results are pickled under a folder, keyed by the exact audio handed to the
engine, the model, the request's options and a caller-given fingerprint of the engine settings
(beam size, VAD, …), so a changed setting never reads a stale result.
"""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path
from typing import Any

__all__ = ["CachingEngine"]


class CachingEngine:
    """Wraps a speech engine; results are pickled by the hash of the audio the engine gets."""

    def __init__(self, inner: Any, cache_dir: Path, fingerprint: str = "") -> None:
        self._inner, self._dir, self._fingerprint = inner, cache_dir, fingerprint
        cache_dir.mkdir(parents=True, exist_ok=True)

    @property
    def name(self) -> str:
        return str(self._inner.name)

    @property
    def model(self) -> str:
        return str(self._inner.model)

    async def warm_up(self) -> None:
        warm = getattr(self._inner, "warm_up", None)
        if warm is not None:
            await warm()

    async def transcribe(self, request: Any) -> Any:
        digest = hashlib.sha256(request.audio.samples.tobytes())
        digest.update(f"{request.multichannel}|{self.model}|{request.keyterms}".encode())
        if self._fingerprint:
            digest.update(f"|{self._fingerprint}".encode())
        path = self._dir / f"{digest.hexdigest()[:32]}.pkl"
        if path.exists():
            return pickle.loads(path.read_bytes())  # noqa: S301 - our own cache in a local folder
        result = await self._inner.transcribe(request)
        path.write_bytes(pickle.dumps(result))
        return result

    async def aclose(self) -> None:
        await self._inner.aclose()
