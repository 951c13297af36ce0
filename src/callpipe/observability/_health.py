"""A tiny HTTP server for services without FastAPI: ``/healthz`` (liveness) and ``/metrics``.

Runs in a daemon thread on 127.0.0.1 by default; the check callable decides 200 or 503, so a
runner whose consumer thread died is restarted by the orchestrator instead of idling forever.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

__all__ = ["HealthCheck", "HealthServer"]

# Returns (healthy, detail); detail is shown in the 503 body for whoever debugs the restart.
HealthCheck = Callable[[], tuple[bool, str]]


class HealthServer:
    def __init__(
        self,
        check: HealthCheck,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        registry: CollectorRegistry = REGISTRY,
    ) -> None:
        handler = _make_handler(check, registry)
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="callpipe-health", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> HealthServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _make_handler(check: HealthCheck, registry: CollectorRegistry) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?", 1)[0] == "/healthz":
                healthy, detail = check()
                body = json.dumps({"status": "ok" if healthy else "unhealthy", "detail": detail}).encode()
                self._send(200 if healthy else 503, "application/json", body)
            elif self.path.split("?", 1)[0] == "/metrics":
                self._send(200, CONTENT_TYPE_LATEST, generate_latest(registry))
            else:
                self._send(404, "application/json", b'{"error": "not found: use /healthz or /metrics"}')

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            # Scrapes every few seconds would drown the JSON logs.
            return

    return Handler
