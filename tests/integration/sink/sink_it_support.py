"""Constants and helpers shared by the sink's integration tests."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from tests.integration import kafka_support

_REPO_ROOT = Path(__file__).resolve().parents[3]

# Seeded data ends here; the insights app's clock is pinned to it.
SEED_END = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
TOKEN = "test-token-0123456789abcdef"


def produce(bootstrap: str, topic: str, records: list[tuple[str, bytes]]) -> None:
    kafka_support.produce(bootstrap, topic, records)


def read_all(bootstrap: str, topic: str, expected: int, timeout: float = 60.0) -> list[Any]:
    return kafka_support.read_topic(bootstrap, topic, expected, timeout, grace_s=0.0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ClickHouseFront:
    """``python -m tests.integration.sink.clickhouse_http`` as a subprocess (a ClickHouse HTTP
    front for chdb; see that module). ``kill()`` takes ClickHouse away the hard way (refused
    connections, chdb's directory lock released), ``start()`` brings it back on the SAME port and
    directory."""

    def __init__(self, path: Path, log: Path, port: int | None = None) -> None:
        self.path = path
        self.log = log
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 60.0) -> ClickHouseFront:
        assert self.proc is None or self.proc.poll() is not None, "front already running"
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable, "-m", "tests.integration.sink.clickhouse_http",
                    "--path", str(self.path), "--port", str(self.port),
                ],
                cwd=_REPO_ROOT, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text(errors="replace")[-3000:]
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.url}/ping", timeout=2).text == "Ok.\n":
                    return self
            time.sleep(0.1)
        raise AssertionError(f"ClickHouse front not ready in {timeout_s}s: {self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)

    def __enter__(self) -> ClickHouseFront:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
