"""The dated advisory snapshot the offline test checks the lock against, and its recorder.

``./dev audit`` runs pip-audit on the exported lock (that needs the advisory service online) and
then ``python -m tests.unit.security.advisories record var/pip-audit.json`` writes
``advisories.json`` here; without the service, ``./dev audit local DIR`` matches the lock against a
local copy of an OSV advisory database (the ``vulns/`` folder of github.com/pypa/advisory-database)
with ``python -m tests.unit.security.advisories osv DIR LABEL``. Either way the snapshot holds the
date, how many packages were audited and how many could
not look up, and every (package, version, advisory) it reported. Accepted findings (not
applicable, with a reason) are kept by hand under ``accepted`` and survive re-recording.

What the offline test can honestly check with it: that the lock does not pin a version the
snapshot listed as vulnerable (a downgrade, or a resolver picking an old version) unless the
finding is accepted with a reason, and that every accepted finding is explained in
docs/security.md. It cannot know advisories published after the snapshot's date.
"""

from __future__ import annotations

import json
import sys
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from packaging.version import InvalidVersion, Version

SNAPSHOT = Path(__file__).with_name("advisories.json")
LOCK = Path(__file__).resolve().parents[3] / "uv.lock"


def _canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def locked_versions(lock: Path = LOCK) -> dict[str, set[str]]:
    """Package → versions pinned in uv.lock (one normally; more with markers)."""
    pins: dict[str, set[str]] = {}
    for package in tomllib.loads(lock.read_text())["package"]:
        if "version" in package:
            pins.setdefault(_canonical(package["name"]), set()).add(package["version"])
    return pins


def vulnerable_pins(snapshot: dict[str, Any], pins: dict[str, set[str]]) -> list[str]:
    """'name==version ID' for each listed, not accepted finding whose version the lock pins."""
    accepted = set(snapshot.get("accepted", {}))
    return sorted(
        f"{f['name']}=={f['version']} {f['id']}"
        for f in snapshot["findings"]
        if f["id"] not in accepted and f["version"] in pins.get(_canonical(f["name"]), set())
    )


def record(audit_json: Path, service: str) -> dict[str, Any]:
    """The snapshot from pip-audit's JSON output, keeping the hand-kept ``accepted`` section."""
    report = json.loads(audit_json.read_text())
    deps = report["dependencies"]
    previous = json.loads(SNAPSHOT.read_text()) if SNAPSHOT.exists() else {}
    return {
        "recorded": datetime.now(UTC).date().isoformat(),
        "service": service,
        "audited": sum(1 for d in deps if not d.get("skip_reason")),
        "skipped": sorted(d["name"] for d in deps if d.get("skip_reason")),
        "findings": [
            {
                "name": d["name"],
                "version": d["version"],
                "id": v["id"],
                "fix_versions": v.get("fix_versions", []),
            }
            for d in deps
            for v in d.get("vulns", [])
        ],
        "accepted": previous.get("accepted", {}),
    }


def affects(advisory: dict[str, Any], name: str, version: str) -> bool:
    """Whether an OSV advisory lists ``name==version`` as affected: by its explicit ``versions``
    or by an ECOSYSTEM range (introduced / fixed / last_affected events, PEP 440 order)."""
    if advisory.get("withdrawn"):
        return False
    try:
        pinned = Version(version)
    except InvalidVersion:
        return False
    for affected in advisory.get("affected", []):
        package = affected.get("package", {})
        if package.get("ecosystem") != "PyPI" or _canonical(str(package.get("name", ""))) != name:
            continue
        if version in {str(v) for v in affected.get("versions", [])}:
            return True
        for span in affected.get("ranges", []):
            if span.get("type") == "ECOSYSTEM" and _in_range(span.get("events", []), pinned):
                return True
    return False


def _in_range(events: list[dict[str, Any]], pinned: Version) -> bool:
    inside = False
    for event in sorted(events, key=lambda e: _event_order(e)):
        try:
            if "introduced" in event:
                bound = str(event["introduced"])
                inside = inside or bound == "0" or pinned >= Version(bound)
            elif _past(event, pinned):
                inside = False
        except InvalidVersion:
            continue
    return inside


def _past(event: dict[str, Any], pinned: Version) -> bool:
    """Whether ``pinned`` is past a closing event (at or after ``fixed``, after ``last_affected``)."""
    if "fixed" in event:
        return pinned >= Version(str(event["fixed"]))
    return "last_affected" in event and pinned > Version(str(event["last_affected"]))


def _event_order(event: dict[str, Any]) -> Version:
    value = str(next(iter(event.values())))
    try:
        return Version("0" if value == "0" else value)
    except InvalidVersion:
        return Version("0")


def record_osv(database: Path, label: str, pins: dict[str, set[str]]) -> dict[str, Any]:
    """The snapshot from a local OSV database (``vulns/<package>/*.yaml|json``), keeping ``accepted``."""
    previous = json.loads(SNAPSHOT.read_text()) if SNAPSHOT.exists() else {}
    by_package: dict[str, list[Path]] = {}
    for folder in database.iterdir():
        if folder.is_dir():
            by_package.setdefault(_canonical(folder.name), []).extend(sorted(folder.iterdir()))
    findings: list[dict[str, Any]] = []
    for name, versions in sorted(pins.items()):
        for path in by_package.get(name, []):
            advisory = yaml.safe_load(path.read_text(encoding="utf-8"))
            findings.extend(
                {"name": name, "version": v, "id": str(advisory["id"]), "fix_versions": _fixes(advisory)}
                for v in sorted(versions)
                if affects(advisory, name, v)
            )
    return {
        "recorded": datetime.now(UTC).date().isoformat(),
        "service": label,
        "audited": len(pins),
        "skipped": [],
        "findings": findings,
        "accepted": previous.get("accepted", {}),
    }


def _fixes(advisory: dict[str, Any]) -> list[str]:
    return sorted(
        {
            str(event["fixed"])
            for affected in advisory.get("affected", [])
            for span in affected.get("ranges", [])
            if span.get("type") == "ECOSYSTEM"
            for event in span.get("events", [])
            if "fixed" in event
        }
    )


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] not in ("record", "osv"):
        print(
            "usage: python -m tests.unit.security.advisories record PIP_AUDIT_JSON SERVICE\n"
            "       python -m tests.unit.security.advisories osv VULNS_DIR LABEL",
            file=sys.stderr,
        )
        return 2
    if argv[0] == "osv":
        snapshot = record_osv(Path(argv[1]), argv[2], locked_versions())
    else:
        snapshot = record(Path(argv[1]), argv[2])
    SNAPSHOT.write_text(json.dumps(snapshot, indent=2, sort_keys=True) + "\n")
    open_findings = vulnerable_pins(snapshot, locked_versions())
    print(
        f"recorded {SNAPSHOT.name}: {snapshot['audited']} audited, {len(snapshot['skipped'])} not looked up, "
        f"{len(snapshot['findings'])} findings, {len(open_findings)} not accepted"
    )
    for line in open_findings:
        print(f"  {line}")
    # An audit that looked nothing up proves nothing: fail, so "no findings" is never mistaken for it.
    return 1 if open_findings or snapshot["skipped"] else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
