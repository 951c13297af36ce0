"""Recording store on a local directory (the embedded default: ``file://var/recordings``).

Writes go to a temporary file in the target directory, are fsynced, then renamed over the final
name: a reader (or a crash) never sees half a recording, and re-writing the same key is atomic.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

from callpipe.errors import DependencyUnavailableError, InvalidInputError
from callpipe.store._base import RecordingNotFoundError, validate_key
from callpipe.store._sweep import StoredObject

__all__ = ["LocalRecordingStore", "parse_file_url"]


def parse_file_url(url: str, *, base: Path | None = None) -> Path:
    """Directory of a ``file://`` store URL.

    ``file:///srv/rec`` is absolute; ``file://var/recordings`` (the documented default) is read as
    a path relative to ``base`` (the working directory), because users write it that way and
    the alternative (treating ``var`` as a host name) would be useless.
    """
    if not url.startswith("file://"):
        raise InvalidInputError(f"not a file:// URL: {url!r}")
    raw = unquote(url[len("file://") :])
    if not raw:
        raise InvalidInputError("file:// URL names no directory")
    path = Path(raw)
    if not path.is_absolute():
        path = (base or Path.cwd()) / path
    return path.resolve()


class LocalRecordingStore:
    """Recordings as files below ``root``; URIs are ``file:///abs/path``."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def __repr__(self) -> str:
        return f"LocalRecordingStore({str(self.root)!r})"

    def _path_for(self, key: str) -> Path:
        return self.root.joinpath(*validate_key(key).split("/"))

    def uri_for(self, key: str) -> str:
        return self._path_for(key).as_uri()

    def key_of(self, uri: str) -> str:
        return self._path_of(uri).relative_to(self.root).as_posix()

    def _path_of(self, uri: str) -> Path:
        """The file behind a URI this store produced; anything outside ``root`` is refused."""
        parts = urlsplit(uri)
        if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
            raise InvalidInputError(f"{uri!r} is not a file:// URI of this store ({self.root})")
        path = Path(unquote(parts.path)).resolve()
        if not path.is_relative_to(self.root) or path == self.root:
            raise InvalidInputError(f"{uri!r} is outside the recording store {self.root}")
        return path

    async def put(self, key: str, data: bytes, content_type: str | None = None) -> str:
        target = self._path_for(key)
        await asyncio.to_thread(self._write_atomic, target, lambda f: f.write(data))
        return target.as_uri()

    async def put_file(self, key: str, path: Path, content_type: str | None = None) -> str:
        target = self._path_for(key)

        def copy(out: BinaryIO) -> None:
            with path.open("rb") as src:
                shutil.copyfileobj(src, out, length=1 << 20)

        try:
            await asyncio.to_thread(self._write_atomic, target, copy)
        except FileNotFoundError as exc:
            raise InvalidInputError(f"cannot store {path}: file does not exist") from exc
        return target.as_uri()

    def _write_atomic(self, target: Path, write: Callable[[BinaryIO], object]) -> None:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=target.parent)
        except OSError as exc:
            # Disk full, read-only mount, permissions: the store must be fixed, the input is fine.
            raise DependencyUnavailableError(f"recording store {self.root} not writable: {exc}") from exc
        try:
            with os.fdopen(fd, "wb") as out:
                write(out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)
        except FileNotFoundError:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise DependencyUnavailableError(f"writing {target} failed: {exc}") from exc
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    async def get(self, uri: str) -> bytes:
        path = self._path_of(uri)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except (FileNotFoundError, IsADirectoryError) as exc:
            raise RecordingNotFoundError(f"no recording at {uri}") from exc
        except OSError as exc:
            raise DependencyUnavailableError(f"reading {uri} failed: {exc}") from exc

    @contextlib.asynccontextmanager
    async def local_path(self, uri: str) -> AsyncIterator[Path]:
        path = self._path_of(uri)
        if not await asyncio.to_thread(path.is_file):
            raise RecordingNotFoundError(f"no recording at {uri}")
        yield path

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self._path_for(key).is_file)

    async def delete(self, uri: str) -> None:
        path = self._path_of(uri)
        try:
            await asyncio.to_thread(path.unlink, True)
        except OSError as exc:
            raise DependencyUnavailableError(f"deleting {uri} failed: {exc}") from exc

    async def walk(self) -> AsyncIterator[list[StoredObject]]:
        """Every stored file, one list per directory (for the retention sweep). Files that are no
        object (a writer's ``.tmp-`` file, anything with a name ``put`` would refuse) are left out."""
        pending = [self.root]
        while pending:
            files, subdirs = await asyncio.to_thread(self._scan, pending.pop())
            pending.extend(sorted(subdirs, reverse=True))
            if files:
                yield files

    def _scan(self, directory: Path) -> tuple[list[StoredObject], list[Path]]:
        files: list[StoredObject] = []
        subdirs: list[Path] = []
        try:
            entries = list(os.scandir(directory))
        except FileNotFoundError:
            return files, subdirs
        except OSError as exc:
            raise DependencyUnavailableError(f"listing {directory} failed: {exc}") from exc
        for entry in sorted(entries, key=lambda e: e.name):
            try:
                if entry.is_dir(follow_symlinks=False):
                    subdirs.append(Path(entry.path))
                    continue
                if not entry.is_file(follow_symlinks=False):
                    continue
                key = Path(entry.path).relative_to(self.root).as_posix()
                validate_key(key)
                modified = datetime.fromtimestamp(entry.stat(follow_symlinks=False).st_mtime, tz=UTC)
            except (FileNotFoundError, InvalidInputError):
                continue  # deleted meanwhile, or no object of this store
            files.append(StoredObject(key, modified))
        return files, subdirs

    async def aclose(self) -> None:
        return None
