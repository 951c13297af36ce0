"""The house's floors: the runtime (src/, services/) never reaches up into tools/, and what the
service images install is the runtime only."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from callpipe_tools.layout import FLOORS, packages_by_floor, upward_imports

REPO = Path(__file__).resolve().parents[2]
ROOT = tomllib.loads((REPO / "pyproject.toml").read_text())
TOOLS = tomllib.loads((REPO / "tools" / "pyproject.toml").read_text())


def test_no_import_runs_back_up() -> None:
    result = upward_imports(REPO)
    assert result.module_imports == {}, result.module_imports
    assert {"callpipe", "callpipe_sink", "callpipe_cli", "callpipe_bench", "callpipe_tools"} <= set(
        result.packages
    )


def test_an_upward_import_is_counted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for floor in FLOORS:
        (tmp_path / floor).mkdir()
        monkeypatch.syspath_prepend(str(tmp_path / floor))
    (tmp_path / "src" / "layout_low").mkdir()
    (tmp_path / "src" / "layout_low" / "__init__.py").write_text("import layout_high\n")
    (tmp_path / "tools" / "layout_high").mkdir()
    (tmp_path / "tools" / "layout_high" / "__init__.py").write_text("import layout_low\n")
    result = upward_imports(tmp_path)
    assert dict(result.module_imports) == {("layout_low", "layout_high"): 1}
    assert result.folder_arrows == {("src", "tools")}


def test_runtime_wheel_is_src_and_services_only() -> None:
    runtime = ROOT["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    floors = packages_by_floor(REPO)
    assert sorted(p for p in runtime if p.startswith("src/")) == sorted(
        f"src/{p}" for p, floor in floors.items() if floor == "src"
    )
    services = sorted(p for p in runtime if p.startswith("services/"))
    assert services == sorted(
        f"services/{d.parent.name}/{d.name}" for d in REPO.glob("services/*/callpipe_*")
    )
    assert all(p.startswith(("src/", "services/")) for p in runtime), runtime
    assert "scripts" not in ROOT["project"], "the callpipe command belongs to callpipe-tools"


def test_tools_distribution_carries_every_tools_package_and_the_command() -> None:
    listed = TOOLS["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    on_disk = sorted(p for p, floor in packages_by_floor(REPO).items() if floor == "tools")
    assert sorted(listed) == on_disk
    assert TOOLS["project"]["scripts"]["callpipe"] == "callpipe_cli.main:main"
    assert "callpipe-tools" in ROOT["dependency-groups"]["dev"], "dev environments install the tools"


SERVICE_DOCKERFILE = REPO / "services" / "Dockerfile"


def test_service_image_installs_runtime_only() -> None:
    assert not list(REPO.glob("services/*/Dockerfile")), "one recipe for every service: services/Dockerfile"
    text = SERVICE_DOCKERFILE.read_text()
    copies = [line.split()[1] for line in text.splitlines() if line.startswith("COPY ")]
    assert copies and not any(src.startswith("tools") for src in copies), copies
    syncs = [line for line in text.splitlines() if line.startswith("RUN uv sync")]
    # --no-dev: the dev group would install callpipe-tools.
    assert len(syncs) == 2 and all("--no-dev" in line for line in syncs), syncs
    assert all("${EXTRAS}" in line for line in syncs), "only the service's own extras"
    ignored = (REPO / ".dockerignore").read_text().split()
    assert "tools" in ignored
