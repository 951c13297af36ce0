"""The house's floors, measured: import arrows that run back up, and what the runtime wheel holds.

    python -m callpipe_tools.layout [--wheel]

Floors, bottom to top, are the folders: ``src/`` (the shared package), ``services/`` (one package
per service), ``tools/`` (the CLI, the benchmarks, the tools' libraries). An arrow runs back up
when a module of a lower floor imports a module of a higher one; import-linter forbids it, this
prints the count (folder pairs and module imports) so a change of layout can show before/after.
``--wheel`` also builds the runtime wheel (``uv build --wheel``, what every service image
installs) into a temporary directory and prints its size and top-level packages.

Needs grimp (import-linter's graph builder, in the dev group).
"""

from __future__ import annotations

import argparse
import collections
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["FLOORS", "UpwardImports", "main", "packages_by_floor", "upward_imports", "wheel_summary"]

REPO = Path(__file__).resolve().parents[2]
# Bottom to top: a module may import its own floor and the floors below it.
FLOORS: tuple[str, ...] = ("src", "services", "tools")


@dataclass(frozen=True)
class UpwardImports:
    packages: dict[str, str]  # top-level package -> floor folder
    module_imports: collections.Counter[tuple[str, str]]  # (importer package, imported package) -> count

    @property
    def folder_arrows(self) -> set[tuple[str, str]]:
        return {(self.packages[a], self.packages[b]) for a, b in self.module_imports}


def packages_by_floor(repo: Path = REPO) -> dict[str, str]:
    """Top-level import packages (``callpipe``, ``callpipe_sink``, …) and the floor folder of each."""
    found: dict[str, str] = {}
    for floor in FLOORS:
        base = repo / floor
        for init in sorted([*base.glob("*/__init__.py"), *base.glob("*/*/__init__.py")]):
            package = init.parent
            if not (package.parent / "__init__.py").exists():
                found[package.name] = floor
    return found


def upward_imports(repo: Path = REPO) -> UpwardImports:
    import grimp  # dev-only: the tools' distribution does not depend on it

    packages = packages_by_floor(repo)
    graph = grimp.build_graph(*sorted(packages), include_external_packages=False, cache_dir=None)
    level = {floor: i for i, floor in enumerate(FLOORS)}
    counts: collections.Counter[tuple[str, str]] = collections.Counter()
    for importer in graph.modules:
        for imported in graph.find_modules_directly_imported_by(importer):
            a, b = importer.split(".")[0], imported.split(".")[0]
            if level[packages[a]] < level[packages[b]]:
                counts[(a, b)] += 1
    return UpwardImports(packages=packages, module_imports=counts)


def wheel_summary(wheel: Path) -> str:
    with zipfile.ZipFile(wheel) as archive:
        files = [i for i in archive.infolist() if not i.filename.endswith("/")]
        python = [i.filename for i in files if i.filename.endswith(".py")]
        lines = sum(archive.read(name).count(b"\n") for name in python)
        tops = collections.Counter(i.filename.split("/")[0] for i in files)
        scripts = [n for n in archive.namelist() if n.endswith("entry_points.txt")]
        entry = archive.read(scripts[0]).decode().split() if scripts else []
    return (
        f"{wheel.name}: {len(files)} files, {sum(i.file_size for i in files)} bytes uncompressed, "
        f"{len(python)} .py files / {lines} lines\n  packages: {dict(sorted(tops.items()))}\n"
        f"  entry points: {' '.join(entry) or 'none'}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m callpipe_tools.layout", description=__doc__)
    parser.add_argument("--wheel", action="store_true", help="also build and list the runtime wheel")
    args = parser.parse_args(argv)
    result = upward_imports()
    for floor in FLOORS:
        names = sorted(p for p, f in result.packages.items() if f == floor)
        print(f"{floor + '/':10} {' '.join(names)}")
    print(
        f"arrows running back up: {len(result.folder_arrows)} folder pair(s), "
        f"{sum(result.module_imports.values())} module import(s)"
    )
    for (a, b), count in sorted(result.module_imports.items()):
        print(f"  {result.packages[a]}/{a} -> {result.packages[b]}/{b}: {count}")
    if args.wheel:
        with tempfile.TemporaryDirectory() as out:
            subprocess.run(  # noqa: S603 - fixed argv, no shell
                ["uv", "build", "--wheel", "--offline", "--package", "callpipe", "-o", out, "-q"],  # noqa: S607
                cwd=REPO,
                check=True,
            )
            for wheel in sorted(Path(out).glob("*.whl")):
                print(wheel_summary(wheel))
    return 1 if result.module_imports else 0


if __name__ == "__main__":
    sys.exit(main())
