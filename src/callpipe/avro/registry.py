"""Schema registries: where a schema id comes from and how an id turns back into a schema.

Two implementations of one small protocol:

* :class:`LocalSchemaRegistry` — built from schemas/ (``registry.json`` + ``*.avsc``) with ids fixed
  in that file, so the embedded quickstart needs no registry server and ids never change between
  machines or runs.
* :class:`ConfluentSchemaRegistry` — confluent-kafka's ``SchemaRegistryClient`` against any
  Confluent-compatible URL (Confluent, Apicurio ccompat, Karapace). Subjects follow the
  TopicNameStrategy (``<topic>-value``).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, Protocol

from fastavro.schema import fingerprint, parse_schema, to_parsing_canonical_form

from callpipe.errors import DependencyUnavailableError, PoisonMessageError
from callpipe.settings import SchemaRegistrySettings

__all__ = [
    "ConfluentSchemaRegistry",
    "LocalSchemaRegistry",
    "SchemaRegistry",
    "default_schema_dir",
    "registry_from_settings",
    "schema_fingerprint",
]


class SchemaRegistry(Protocol):
    """Maps schemas to ids (writers) and ids back to schemas (readers)."""

    def id_for(self, subject: str, schema: dict[str, Any]) -> int:
        """The id under which ``schema`` is registered for ``subject`` (registering it if allowed)."""
        ...

    def schema_for(self, schema_id: int) -> dict[str, Any]:
        """The writer schema with that id; raises PoisonMessageError for an unknown id."""
        ...


def schema_fingerprint(schema: dict[str, Any]) -> str:
    """Rabin fingerprint of the parsing canonical form: equal for schemas equal up to docs/order."""
    return str(fingerprint(to_parsing_canonical_form(parse_schema(schema, _write_hint=False)), "CRC-64-AVRO"))


def default_schema_dir() -> Path:
    """schemas/ of the checkout, or the copy packaged into the wheel."""
    packaged = Path(__file__).resolve().parent.parent / "schemas"
    if (packaged / "registry.json").exists():
        return packaged
    return Path(__file__).resolve().parents[3] / "schemas"


class LocalSchemaRegistry:
    """Read-only registry from schemas/registry.json; ids are stable because they are in the file."""

    def __init__(self, entries: dict[int, dict[str, Any]]) -> None:
        self._by_id = entries
        self._by_fingerprint = {schema_fingerprint(s): i for i, s in entries.items()}

    @classmethod
    def from_directory(cls, directory: Path | None = None) -> LocalSchemaRegistry:
        directory = directory or default_schema_dir()
        manifest = json.loads((directory / "registry.json").read_text())
        entries = {int(e["id"]): json.loads((directory / e["file"]).read_text()) for e in manifest["schemas"]}
        return cls(entries)

    def id_for(self, subject: str, schema: dict[str, Any]) -> int:
        try:
            return self._by_fingerprint[schema_fingerprint(schema)]
        except KeyError:
            # A deployment whose code and schemas/ disagree: pause and say so (like a wrong API
            # key), rather than dead-letter every call it would have produced.
            raise DependencyUnavailableError(
                f"schema for {subject!r} is not in schemas/registry.json; run 'callpipe schemas' "
                "to write the current contracts"
            ) from None

    def schema_for(self, schema_id: int) -> dict[str, Any]:
        try:
            return self._by_id[schema_id]
        except KeyError:
            raise PoisonMessageError(
                f"unknown schema id {schema_id} (not in schemas/registry.json)"
            ) from None


class ConfluentSchemaRegistry:
    """Adapter over confluent-kafka's SchemaRegistryClient (the only module that imports it)."""

    def __init__(self, url: str, *, auto_register: bool = True, client_config: dict[str, Any] | None = None):
        from confluent_kafka.schema_registry import SchemaRegistryClient

        self._client = SchemaRegistryClient({"url": url, **(client_config or {})})
        self._auto_register = auto_register
        self._ids: dict[tuple[str, str], int] = {}
        self._schemas: dict[int, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the client's HTTP connections."""
        self._client.__exit__()  # type: ignore[no-untyped-call]  # the SDK's close is __exit__

    def __enter__(self) -> ConfluentSchemaRegistry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def id_for(self, subject: str, schema: dict[str, Any]) -> int:
        from confluent_kafka.schema_registry import Schema
        from confluent_kafka.schema_registry.error import SchemaRegistryError

        key = (subject, schema_fingerprint(schema))
        with self._lock:
            if key in self._ids:
                return self._ids[key]
        text = json.dumps(schema)
        try:
            if self._auto_register:
                schema_id = int(self._client.register_schema(subject, Schema(text, "AVRO")))
            else:
                registered = self._client.lookup_schema(subject, Schema(text, "AVRO"))
                if registered.schema_id is None:
                    raise DependencyUnavailableError(f"schema registry returned no id for {subject!r}")
                schema_id = int(registered.schema_id)
        except SchemaRegistryError as exc:
            raise DependencyUnavailableError(f"schema registry refused {subject!r}: {exc}") from exc
        except Exception as exc:
            raise DependencyUnavailableError(f"schema registry unreachable: {exc}") from exc
        with self._lock:
            self._ids[key] = schema_id
        return schema_id

    def schema_for(self, schema_id: int) -> dict[str, Any]:
        from confluent_kafka.schema_registry.error import SchemaRegistryError

        with self._lock:
            if schema_id in self._schemas:
                return self._schemas[schema_id]
        # Only the network call sits in the try: a missing or unparsable schema text is the
        # message's problem (dead-letter), and must not be mistaken for an unreachable registry.
        try:
            text = self._client.get_schema(schema_id).schema_str
        except SchemaRegistryError as exc:
            if exc.http_status_code == 404:
                raise PoisonMessageError(f"unknown schema id {schema_id}: {exc}") from exc
            raise DependencyUnavailableError(f"schema registry error for id {schema_id}: {exc}") from exc
        except Exception as exc:
            raise DependencyUnavailableError(f"schema registry unreachable: {exc}") from exc
        if text is None:
            raise PoisonMessageError(f"schema id {schema_id} has no schema text")
        try:
            schema: dict[str, Any] = json.loads(text)
        except ValueError as exc:
            raise PoisonMessageError(f"schema id {schema_id} is not valid JSON: {exc}") from exc
        with self._lock:
            self._schemas[schema_id] = schema
        return schema


def registry_from_settings(settings: SchemaRegistrySettings) -> SchemaRegistry:
    """The registry the settings describe: Confluent-compatible at ``url``, else the local one.

    No URL is the embedded default (schemas/registry.json), so a user without servers still gets
    stable schema ids. Basic auth travels as SecretStr and is unwrapped only here, for the client.
    """
    if not settings.url:
        return LocalSchemaRegistry.from_directory()
    client_config: dict[str, Any] = {}
    if settings.basic_auth_user_info is not None:
        client_config["basic.auth.user.info"] = settings.basic_auth_user_info.get_secret_value()
    return ConfluentSchemaRegistry(
        settings.url, auto_register=settings.auto_register, client_config=client_config
    )
