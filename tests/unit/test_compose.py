"""docker-compose.yml: valid for compose, every long-running service healthy-checked, waited on."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
SERVICES = ("ingest", "transcriber", "analyzer", "sink")
SECRETS = ("CALLPIPE_API_TOKEN", "CLICKHOUSE_PASSWORD", "MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD")


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def _one_shot(spec: dict[str, Any]) -> bool:
    return spec.get("restart") == "no"


def test_compose_config_is_valid() -> None:
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("docker client not installed")
    if subprocess.run([docker, "compose", "version"], capture_output=True).returncode != 0:
        pytest.skip("docker client has no compose plugin")
    # Plain `docker compose config -q` in the repo root, as a user runs it on a fresh clone: the
    # committed .env supplies placeholders (which the services refuse at start-up).
    env = {"PATH": "/usr/bin:/bin", "HOME": str(Path.home())}
    result = subprocess.run(
        [docker, "compose", "config", "-q"], capture_output=True, text=True, env=env, cwd=REPO
    )
    assert result.returncode == 0, result.stderr


def test_every_long_running_service_has_a_healthcheck() -> None:
    services = _compose()["services"]
    assert set(SERVICES) <= set(services)
    for name, spec in services.items():
        if _one_shot(spec):
            continue
        check = spec.get("healthcheck") or {}
        assert check.get("test"), f"{name} has no healthcheck"


def test_dependencies_wait_for_health_or_completion() -> None:
    services = _compose()["services"]
    for name, spec in services.items():
        depends = spec.get("depends_on", {})
        assert isinstance(depends, dict), f"{name}: depends_on must name conditions"
        for dep, cond in depends.items():
            assert dep in services, f"{name} depends on unknown {dep}"
            wanted = "service_completed_successfully" if _one_shot(services[dep]) else "service_healthy"
            assert cond.get("condition") == wanted, f"{name} -> {dep}: {cond}"
    for name in SERVICES:
        assert "kafka" in services[name]["depends_on"], name


def _build_arg_default(text: str, name: str) -> str:
    match = re.search(rf'^ARG {name}="(.*)"$', text, re.MULTILINE)
    assert match, f"ARG {name} with a default"
    return match.group(1)


def test_every_service_builds_from_the_one_recipe_with_only_its_extras() -> None:
    services = _compose()["services"]
    text = (REPO / "services" / "Dockerfile").read_text()
    default_extras = _build_arg_default(text, "EXTRAS")
    assert "CALLPIPE_SERVICE_MODULE=callpipe_${SERVICE}" in text
    assert 'exec python -m \\"$CALLPIPE_SERVICE_MODULE\\"' in text, "python must replace the shell (SIGTERM)"
    built = {name for name, spec in services.items() if "build" in spec}
    packages = {p.name.removeprefix("callpipe_") for p in REPO.glob("services/*/callpipe_*")}
    assert built == packages, "every service package has its image and nothing else is built"
    for name in sorted(built):
        build = services[name]["build"]
        assert build["context"] == "."
        assert build["dockerfile"] == "services/Dockerfile"
        assert build["args"]["SERVICE"] == name
        assert (REPO / "services" / name / f"callpipe_{name}" / "__main__.py").exists()
        extras_arg = build["args"].get("EXTRAS", default_extras.replace("${SERVICE}", name))
        extras = set(re.findall(r"--extra (\w+)", extras_arg))
        assert name in extras
        assert not extras & (packages - {name}), f"{name} installs another service's extra"


def test_secrets_are_required_from_the_environment_not_written_down() -> None:
    text = COMPOSE.read_text()
    for secret in SECRETS:
        assert f"${{{secret}:?" in text, f"{secret} must use ${{VAR:?}}"
    for match in re.finditer(r"(PASSWORD|TOKEN|SECRET_ACCESS_KEY|API_KEY):\s*(\S+)", text):
        assert match.group(2).startswith("${"), f"literal secret: {match.group(0)}"
