"""Run the four services as separate local processes on embedded defaults.

Used by ``callpipe demo``, the end-to-end test and the chaos test: each service is started the
way its container starts it (``python -m callpipe_<name>``), configured only through
environment variables, with its log in ``<work_dir>/logs/<name>.log``. Processes can be
SIGKILLed and restarted individually, which is what the crash tests do.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

from callpipe.offline import OFFLINE_ENV

# Runs in a fresh interpreter: chdb lets one process open a single data directory, and the caller
# (a test process, say) may already have opened another one.
_QUERY_SCRIPT = """
import json, sys
from callpipe_sink.settings import WarehouseSettings
from callpipe_sink.warehouse import open_warehouse
path, sql = sys.argv[1], sys.argv[2]
warehouse = open_warehouse(WarehouseSettings(chdb_path=path))
try:
    rows = warehouse.rows(sql, {})
finally:
    warehouse.close()
print(json.dumps([list(r) for r in rows], default=str))
"""

__all__ = [
    "DELIVERY_ENGINE_ENV",
    "SERVICES",
    "LocalPipeline",
    "ServiceProcess",
    "free_port",
    "query_chdb",
    "topic_env",
]

SERVICES = ("ingest", "transcriber", "analyzer", "sink")

# Runs that test delivery rather than accuracy (e2e, chaos, bad input, the overhead benchmark):
# the smallest shipped model with greedy decoding; the default (base, beam 5) costs ~6x the
# engine time on two cores.
DELIVERY_ENGINE_ENV = {"TRANSCRIBER_WHISPER_MODEL": "tiny.en", "TRANSCRIBER_WHISPER_BEAM_SIZE": "1"}


def topic_env(prefix: str) -> dict[str, str]:
    """The services' topic settings with every topic under ``prefix``, so runs sharing a broker
    never see each other's records. The dead-letter topics are ``<prefix>.dlq.<stage>``."""
    return {
        "TOPIC_RECORDINGS": f"{prefix}.recordings",
        "TOPIC_TRANSCRIPTS": f"{prefix}.transcripts",
        "TOPIC_ANALYSES": f"{prefix}.analyses",
        "TOPIC_CALL_EVENTS": f"{prefix}.call-events",
        "TOPIC_DEAD_LETTER_PREFIX": f"{prefix}.dlq",
    }


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def query_chdb(chdb_path: Path, sql: str, timeout_s: float = 120.0) -> list[list[Any]]:
    """Rows of ``sql`` ({db:Identifier} names the callpipe database) on a sink's chdb directory.

    The sink must have stopped (it holds the directory's lock while it runs).
    """
    result = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", _QUERY_SCRIPT, str(chdb_path), sql],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"query on {chdb_path} failed: {result.stderr[-2000:]}")
    rows: list[list[Any]] = json.loads(result.stdout.strip().splitlines()[-1])
    return rows


@dataclass
class ServiceProcess:
    """One service process: start, health-wait, terminate, SIGKILL, restart."""

    name: str
    env: dict[str, str]
    health_url: str
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    _log: IO[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", f"callpipe_{self.name}"],
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait_healthy(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.alive:
                raise RuntimeError(
                    f"{self.name} exited with {self._returncode()}; log tail:\n{self.log_tail()}"
                )
            try:
                if httpx.get(self.health_url, timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise TimeoutError(f"{self.name} not healthy after {timeout_s:.0f}s; log tail:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL: no drain, no commit — what a crash or an OOM kill looks like."""
        if self.process is not None and self.alive:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self, timeout_s: float = 30.0) -> int | None:
        """SIGTERM (graceful: drain, commit, flush), SIGKILL after the timeout."""
        if self.process is None:
            return None
        if self.alive:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        return self._returncode()

    def restart(self) -> None:
        self.kill()
        if self._log is not None:
            self._log.close()
        self.restarts += 1
        self.start()

    def _returncode(self) -> int | None:
        return None if self.process is None else self.process.returncode

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class LocalPipeline:
    """The four services wired together on one machine, sharing a work directory."""

    bootstrap_servers: str
    work_dir: Path
    # Least privilege as in production: the upload token cannot read, the read token cannot upload.
    api_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))  # upload scope
    read_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))  # read scope
    ingest_port: int = field(default_factory=free_port)
    insights_port: int = field(default_factory=free_port)
    extra_env: Mapping[str, str] = field(default_factory=dict)
    # Consumer groups of this run; distinct per pipeline so runs sharing a broker never rebalance
    # against each other.
    group_prefix: str = field(default_factory=lambda: f"callpipe-{secrets.token_hex(3)}")
    services: dict[str, ServiceProcess] = field(default_factory=dict)

    @property
    def ingest_url(self) -> str:
        return f"http://127.0.0.1:{self.ingest_port}"

    @property
    def insights_url(self) -> str:
        return f"http://127.0.0.1:{self.insights_port}"

    @property
    def chdb_path(self) -> Path:
        return self.work_dir / "chdb"

    def _env(self, name: str, metrics_port: int) -> dict[str, str]:
        # The caller's environment passes through (ANALYZER_ENGINE=llm, DEEPGRAM_API_KEY, … work
        # in the demo); what wires the local processes together is set here and wins.
        env = dict(os.environ)
        env.update(OFFLINE_ENV)  # no telemetry from any dependency (callpipe.offline)
        env.update(
            {
                "PYTHONUNBUFFERED": "1",
                "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
                "RECORDING_STORE_URL": f"file://{(self.work_dir / 'recordings').resolve()}",
                "RUNNER_METRICS_PORT": str(metrics_port),
                # Static membership: a restarted (e.g. SIGKILLed) service takes its partitions back
                # at once instead of waiting for its old member's session to time out.
                "RUNNER_INSTANCE_ID": f"{self.group_prefix}-local",
                "RUNNER_GROUP_PREFIX": self.group_prefix,
                "INGEST_PORT": str(self.ingest_port),
                "INGEST_API_TOKEN": self.api_token,
                "TRANSCRIBER_MODEL_CACHE_DIR": str((self.work_dir / "models").resolve()),
                "CLICKHOUSE_CHDB_PATH": str(self.chdb_path.resolve()),
                "INSIGHTS_PORT": str(self.insights_port),
                "INSIGHTS_TOKEN": self.read_token,
            }
        )
        env.update(self.extra_env)
        return env

    def start(self, names: Iterable[str] = SERVICES, *, health_timeout_s: float = 180.0) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        for name in names:
            metrics_port = free_port()
            if name == "ingest":
                health = f"{self.ingest_url}/healthz"
            elif name == "sink":
                health = f"{self.insights_url}/healthz"
            else:
                health = f"http://127.0.0.1:{metrics_port}/healthz"
            service = ServiceProcess(
                name, self._env(name, metrics_port), health, self.work_dir / "logs" / f"{name}.log"
            )
            self.services[name] = service
            service.start()
        for name in names:
            self.services[name].wait_healthy(health_timeout_s)

    def stop(self) -> dict[str, int | None]:
        # Upstream first, so downstream stages can drain what is already in flight.
        return {name: self.services[name].stop() for name in SERVICES if name in self.services}

    def logs(self) -> str:
        return "\n".join(f"--- {n}\n{s.log_tail()}" for n, s in self.services.items())

    def __enter__(self) -> LocalPipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
