"""Apicurio Registry 3.0 (Quarkus app from Maven Central) as a local schema registry.

It stores schemas in memory, so a restart forgets them; callpipe services register their schemas
on first use, which makes that harmless. Clients talk to its Confluent-compatible API at
``.url`` (``/apis/ccompat/v7``).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Self

import httpx

from callpipe_tools.local._errors import LocalInfraError, ServerStartError
from callpipe_tools.local._jars import apicurio_runner, ensure_apicurio
from callpipe_tools.local._process import ServerProcess, free_port, port_open
from callpipe_tools.local._server import LocalServer

__all__ = ["LocalRegistry"]

CCOMPAT_PATH = "/apis/ccompat/v7"


class LocalRegistry(LocalServer):
    """One Apicurio Registry on 127.0.0.1. Context manager, or ``start()``/``close()``."""

    def __init__(
        self,
        *,
        port: int | None = None,
        log_dir: Path | None = None,
        cache: Path | None = None,
        heap_mb: int = 512,
        start_timeout: float = 120.0,
    ) -> None:
        self.log_dir = Path(tempfile.mkdtemp(prefix="callpipe-registry-")) if log_dir is None else log_dir
        super().__init__(
            ServerProcess("apicurio-registry", self.log_dir / "registry.log"),
            self.log_dir,
            owns_dir=log_dir is None,
        )
        self.port = port or free_port()
        self._cache = cache
        self.heap_mb = heap_mb
        self.start_timeout = start_timeout

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """Confluent-compatible endpoint: pass it to ``SchemaRegistryClient({"url": ...})``."""
        return self.base_url + CCOMPAT_PATH

    def start(self, *, detach: bool = False) -> Self:
        if port_open(self.port):
            raise ServerStartError(f"port {self.port} is already in use; is another registry running?")
        began = time.monotonic()
        app = ensure_apicurio(self._cache)
        java = shutil.which("java")
        if java is None:
            raise LocalInfraError(
                "java not found on PATH: install a JRE 17+ (Debian: openjdk-17-jre-headless)"
            )
        argv = [
            java,
            f"-Xmx{self.heap_mb}m",
            "-Djava.awt.headless=true",
            "-Dquarkus.http.host=127.0.0.1",
            f"-Dquarkus.http.port={self.port}",
            # The management interface would open a second port (9000) that clashes between runs.
            "-Dquarkus.management.enabled=false",
            # Quarkus's banner and colour codes only clutter the log tail shown on failure.
            "-Dquarkus.banner.enabled=false",
            "-Dquarkus.console.color=false",
            "-jar",
            str(apicurio_runner(app)),
        ]
        self._proc.spawn(argv, cwd=self.log_dir, detach=detach)
        self._proc.wait_ready(self._ready, self.start_timeout)
        self.last_start_s = time.monotonic() - began
        return self

    def __repr__(self) -> str:
        return f"LocalRegistry({self.url}, running={self.running})"

    def _ready(self) -> bool:
        if not port_open(self.port):
            return False
        try:
            response = httpx.get(self.url + "/subjects", timeout=2.0)
        except httpx.HTTPError:
            return False
        return response.status_code == 200
