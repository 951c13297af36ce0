"""What the local broker and the local registry share: one server process, a working directory
that is removed on ``close()`` when it was a temporary one, and the start/stop/kill life cycle."""

from __future__ import annotations

import shutil
from abc import ABC, abstractmethod
from pathlib import Path
from types import TracebackType
from typing import Self

from callpipe_tools.local._process import ServerProcess

__all__ = ["LocalServer"]


class LocalServer(ABC):
    """A server on 127.0.0.1 run from ``ServerProcess``. Subclasses say how to ``start()`` it."""

    def __init__(self, process: ServerProcess, work_dir: Path, *, owns_dir: bool) -> None:
        self._proc = process
        self._work_dir = work_dir
        self._owns_dir = owns_dir
        self.last_start_s: float | None = None

    @abstractmethod
    def start(self, *, detach: bool = False) -> Self:
        """Start the server and wait until it is ready."""

    @property
    def pid(self) -> int | None:
        return self._proc.pid

    @property
    def running(self) -> bool:
        return self._proc.running

    @property
    def log_path(self) -> Path:
        return self._proc.log_path

    def log_tail(self, lines: int = 60) -> str:
        return self._proc.log_tail(lines)

    def stop(self, timeout: float = 30.0) -> None:
        """Clean shutdown (SIGTERM), SIGKILL after ``timeout`` seconds. Data is kept."""
        self._proc.stop(timeout)

    def kill(self) -> None:
        """SIGKILL: an unclean crash, for chaos tests."""
        self._proc.kill()

    def restart(self, *, timeout: float = 30.0) -> Self:
        """Stop and start again on the same ports and directory."""
        self.stop(timeout)
        return self.start()

    def release(self) -> None:
        """Leave a detached server running and forget it (the CLI's ``start`` uses this)."""
        self._proc.release()

    def close(self) -> None:
        """Stop, and remove the working directory if it was a temporary one."""
        self.stop()
        if self._owns_dir:
            shutil.rmtree(self._work_dir, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
