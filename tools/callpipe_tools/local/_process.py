"""A child server process (a JVM) with a log file, readiness polling and a firm stop.

Shared by ``LocalKafka`` and ``LocalRegistry``; it knows nothing about either server.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from callpipe_tools.local._errors import ServerStartError

__all__ = ["ServerProcess", "free_port", "pid_alive", "port_open", "stop_pid"]

_POLL_S = 0.2


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped) still answers kill(0); it is not running.
    with contextlib.suppress(OSError):
        if Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z"):
            return False
    return True


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(_POLL_S)
    return not pid_alive(pid)


def stop_pid(pid: int, timeout: float = 30.0) -> None:
    """SIGTERM, wait up to ``timeout`` seconds, then SIGKILL. For a process we did not spawn."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        if not _wait_gone(pid, timeout):
            os.kill(pid, signal.SIGKILL)
            _wait_gone(pid, 10.0)


class ServerProcess:
    """One run of a server: spawned with stdout+stderr appended to ``log_path``."""

    def __init__(self, name: str, log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def spawn(self, argv: Sequence[str], *, cwd: Path | None = None, detach: bool = False) -> None:
        """Start ``argv``. ``detach`` puts it in its own session so it outlives this process."""
        if self.running:
            raise RuntimeError(f"{self.name} is already running (pid {self.pid})")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"\n===== {time.strftime('%Y-%m-%d %H:%M:%S')} starting {self.name}\n".encode())
            log.flush()
            self._proc = subprocess.Popen(  # noqa: S603 - argv built by us, no shell
                list(argv),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Detached runs get their own session so Ctrl-C in the launching shell and the
                # launcher's exit do not take the server down.
                start_new_session=detach,
            )

    def log_tail(self, lines: int = 60) -> str:
        try:
            with self.log_path.open("rb") as fh:
                fh.seek(0, os.SEEK_END)
                fh.seek(max(0, fh.tell() - 64 * 1024))
                text = fh.read().decode("utf-8", "replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self, probe: Callable[[], bool], timeout: float) -> float:
        """Poll ``probe`` until it is true; seconds waited. Raises with the log tail on failure."""
        start = time.monotonic()
        deadline = start + timeout
        while True:
            if self._proc is None or self._proc.poll() is not None:
                code = None if self._proc is None else self._proc.returncode
                raise ServerStartError(
                    f"{self.name} exited during start (code {code})", log_tail=self.log_tail()
                )
            if probe():
                return time.monotonic() - start
            if time.monotonic() >= deadline:
                tail = self.log_tail()
                self.kill()
                raise ServerStartError(f"{self.name} not ready after {timeout:.0f}s", log_tail=tail)
            time.sleep(_POLL_S)

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM for a clean shutdown; SIGKILL if it is still alive after ``timeout``."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10.0)
        self._proc = None

    def kill(self) -> None:
        """SIGKILL at once (chaos tests: no clean shutdown, no flushed state)."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
            proc.wait(10.0)
        self._proc = None

    def release(self) -> None:
        """Forget a detached child without stopping it (the launcher is about to exit)."""
        self._proc = None
