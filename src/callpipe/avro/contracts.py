"""The event contracts, their schema files, and ``python -m callpipe.avro.contracts``.

Running the module (``callpipe schemas``) writes schemas/<full name>.avsc from the models and adds a
registry.json entry with the next stable id when a contract changed; older versions stay listed
(with their frozen files) so data written with them can still be read.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from callpipe.avro.registry import default_schema_dir, schema_fingerprint
from callpipe.avro.schema import avro_schema, full_name
from callpipe.models import AlertRaised, CallAnalyzed, RecordingReady, TranscriptReady

__all__ = ["CONTRACTS", "cli", "render", "write_schemas"]

CONTRACTS: tuple[type[BaseModel], ...] = (RecordingReady, TranscriptReady, CallAnalyzed, AlertRaised)


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2) + "\n"


def write_schemas(directory: Path) -> list[str]:
    """Write current .avsc files and registry entries; returns what changed."""
    manifest_path = directory / "registry.json"
    manifest: dict[str, Any] = (
        json.loads(manifest_path.read_text()) if manifest_path.exists() else {"schemas": []}
    )
    entries: list[dict[str, Any]] = manifest["schemas"]
    changed: list[str] = []
    for model in CONTRACTS:
        name = full_name(model)
        schema = avro_schema(model)
        versions = [e for e in entries if e["record"] == name]
        latest = max(versions, key=lambda e: e["version"]) if versions else None
        current_file = f"{name}.avsc"
        if latest is not None:
            latest_schema = json.loads((directory / latest["file"]).read_text())
            if schema_fingerprint(latest_schema) == schema_fingerprint(schema):
                if (directory / current_file).read_text() != render(schema):  # docs only
                    (directory / current_file).write_text(render(schema))
                    changed.append(f"{current_file} (docs)")
                continue
            # Freeze the previous version under its own file name before overwriting the current one.
            frozen = f"{name}.v{latest['version']}.avsc"
            (directory / frozen).write_text((directory / latest["file"]).read_text())
            latest["file"] = frozen
        next_id = max((e["id"] for e in entries), default=0) + 1
        version = (latest["version"] + 1) if latest else 1
        entries.append({"id": next_id, "record": name, "version": version, "file": current_file})
        (directory / current_file).write_text(render(schema))
        changed.append(f"{current_file} v{version} id {next_id}")
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    return changed


def cli(argv: list[str]) -> int:
    """``callpipe schemas [DIR]``: write the current contracts to schemas/."""
    out = Path(argv[0]) if argv else default_schema_dir()
    for line in write_schemas(out) or ["schemas are up to date"]:
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(cli(sys.argv[1:]))
