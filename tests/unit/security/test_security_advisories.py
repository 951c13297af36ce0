"""Offline dependency check: the lock against the dated pip-audit snapshot (see advisories.py).

This cannot find advisories newer than the snapshot, and a snapshot taken where the advisory
service was unreachable lists no findings at all (its ``audited`` count says so, and
docs/security.md quotes it); the online audit is ``./dev audit``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.unit.security.advisories import SNAPSHOT, affects, locked_versions, vulnerable_pins

DOC = Path(__file__).resolve().parents[3] / "docs" / "security.md"


def _snapshot() -> dict[str, object]:
    data: dict[str, object] = json.loads(SNAPSHOT.read_text())
    return data


def test_lock_pins_no_version_the_snapshot_lists_as_vulnerable() -> None:
    assert vulnerable_pins(_snapshot(), locked_versions()) == []


def test_the_check_flags_a_listed_version_the_lock_pins() -> None:
    pins = locked_versions()
    assert pins["pyjwt"] == {"2.15.1"} and "pip-audit" in pins
    finding = {"name": "PyJWT", "version": "2.15.1", "id": "TEST-0001", "fix_versions": ["9"]}
    assert vulnerable_pins({"findings": [finding]}, pins) == ["PyJWT==2.15.1 TEST-0001"]
    assert vulnerable_pins({"findings": [finding], "accepted": {"TEST-0001": "n/a"}}, pins) == []
    assert vulnerable_pins({"findings": [{**finding, "version": "2.0.0"}]}, pins) == []


def test_every_accepted_finding_has_a_reason_in_the_security_doc() -> None:
    accepted = _snapshot()["accepted"]
    assert isinstance(accepted, dict)
    doc = DOC.read_text()
    for advisory, reason in accepted.items():
        assert reason.strip(), advisory
        assert advisory in doc, f"{advisory} is accepted but not explained in docs/security.md"


def test_security_doc_quotes_the_snapshot_it_relies_on() -> None:
    snapshot = _snapshot()
    doc = DOC.read_text()
    match = re.search(
        r"Snapshot (\d{4}-\d{2}-\d{2}) \(([\w@./-]+)\): (\d+) audited, (\d+) not looked up, (\d+) findings",
        doc,
    )
    assert match, "docs/security.md must quote the advisory snapshot line"
    assert match.groups() == (
        snapshot["recorded"],
        snapshot["service"],
        str(snapshot["audited"]),
        str(len(snapshot["skipped"])),  # type: ignore[arg-type]
        str(len(snapshot["findings"])),  # type: ignore[arg-type]
    )


def _advisory(**affected: object) -> dict[str, object]:
    package = {"name": "Some_Pkg", "ecosystem": "PyPI"}
    return {"id": "TEST-0002", "affected": [{"package": package, **affected}]}


def test_an_osv_advisory_matches_by_range_or_listed_version_and_nothing_else() -> None:
    fixed = _advisory(ranges=[{"type": "ECOSYSTEM", "events": [{"introduced": "1.2"}, {"fixed": "1.4.1"}]}])
    assert affects(fixed, "some-pkg", "1.3.0") and affects(fixed, "some-pkg", "1.2")
    assert not affects(fixed, "some-pkg", "1.4.1") and not affects(fixed, "some-pkg", "1.1.9")
    assert not affects(fixed, "other-pkg", "1.3.0")
    events = [{"introduced": "0"}, {"last_affected": "2.0"}]
    last = _advisory(ranges=[{"type": "ECOSYSTEM", "events": events}])
    assert affects(last, "some-pkg", "2.0") and not affects(last, "some-pkg", "2.0.1")
    listed = _advisory(versions=["3.0.0"])
    assert affects(listed, "some-pkg", "3.0.0") and not affects(listed, "some-pkg", "3.0.1")
    assert not affects({**fixed, "withdrawn": "2024-01-01T00:00:00Z"}, "some-pkg", "1.3.0")
    npm_package = {"name": "some-pkg", "ecosystem": "npm"}
    npm = {"id": "X", "affected": [{"package": npm_package, "versions": ["1.0"]}]}
    assert not affects(npm, "some-pkg", "1.0")
