"""The Confluent registry adapter sorts failures into the exception tree the runner acts on.

A schema id whose text is missing or unparsable is the message's fault: dead-letter
(PoisonMessageError). Only an unreachable or failing registry pauses and retries
(DependencyUnavailableError). Before the fix, the first case was caught by the adapter's broad
``except`` and became "registry unreachable", so the partition was retried forever.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from callpipe.avro import ConfluentSchemaRegistry, LocalSchemaRegistry
from callpipe.errors import DependencyUnavailableError, PoisonMessageError

# Bodies a Confluent-compatible registry answers for GET /schemas/ids/{id}, by id.
_BODIES: dict[int, tuple[int, dict[str, object]]] = {
    1: (200, {"schema": json.dumps({"type": "record", "name": "R", "fields": []})}),
    2: (200, {"schemaType": "AVRO"}),  # no schema text at all
    3: (200, {"schema": "{not json"}),
    4: (404, {"error_code": 40403, "message": "Schema not found"}),
    5: (500, {"error_code": 50001, "message": "Error in the backend datastore"}),
}


class _Registry(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        schema_id = int(self.path.split("?")[0].rstrip("/").rsplit("/", 1)[-1])
        status, body = _BODIES.get(schema_id, (404, {"error_code": 40403, "message": "not found"}))
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def registry() -> Iterator[ConfluentSchemaRegistry]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Registry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    client = ConfluentSchemaRegistry(
        f"http://127.0.0.1:{server.server_address[1]}", client_config={"max.retries": 0}
    )
    try:
        yield client
    finally:
        client.close()
        server.shutdown()
        server.server_close()


def test_a_schema_that_exists_is_returned(registry: ConfluentSchemaRegistry) -> None:
    assert registry.schema_for(1)["name"] == "R"


@pytest.mark.parametrize("schema_id", [2, 3, 4])
def test_a_schema_id_without_usable_text_is_poison(registry: ConfluentSchemaRegistry, schema_id: int) -> None:
    with pytest.raises(PoisonMessageError):
        registry.schema_for(schema_id)


def test_a_failing_registry_pauses_instead(registry: ConfluentSchemaRegistry) -> None:
    with pytest.raises(DependencyUnavailableError):
        registry.schema_for(5)


def test_a_schema_missing_from_the_local_registry_is_a_deployment_error_not_a_bare_lookup_error() -> None:
    local = LocalSchemaRegistry.from_directory()
    with pytest.raises(DependencyUnavailableError, match="callpipe schemas"):
        local.id_for("x-value", {"type": "record", "name": "NotAContract", "fields": []})
