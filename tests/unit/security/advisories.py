"""The dated advisory snapshot the offline test checks the lock against, and its recorder.

``./dev audit`` runs pip-audit on the exported lock (that needs the advisory service online) and
then ``python -m tests.unit.security.advisories record var/pip-audit.json`` writes
``advisories.json`` here: the date, how many packages were audited and how many pip-audit could
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


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] != "record":
        print(
            "usage: python -m tests.unit.security.advisories record PIP_AUDIT_JSON SERVICE", file=sys.stderr
        )
        return 2
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
