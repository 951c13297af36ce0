"""deploy/helm/callpipe: lints, renders, and every rendered manifest validates against the vendored
Kubernetes 1.31 and KEDA schemas (kubeconform, strict: unknown fields fail). No cluster, no network.

helm and kubeconform are built by ``./dev setup`` into ${CALLPIPE_CACHE:-~/.cache/callpipe}/go-bin;
without them the tests skip on a workstation and fail in CI.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import faust
import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
CHART = REPO / "deploy" / "helm" / "callpipe"
SCHEMAS = REPO / "deploy" / "schemas"
K8S_VERSION = "1.31.0"
CONSUMERS = {
    "transcriber": "callpipe.recordings",
    "analyzer": "callpipe.transcripts",
    "sink": "callpipe.analyses",
}


def _tool(name: str) -> str:
    cache = Path(os.environ.get("CALLPIPE_CACHE", Path.home() / ".cache" / "callpipe"))
    for candidate in (cache / "go-bin" / name, shutil.which(name)):
        if candidate and Path(candidate).is_file():
            return str(candidate)
    if os.environ.get("CI"):
        pytest.fail(f"{name} is missing: ./dev setup builds it into {cache / 'go-bin'}")
    pytest.skip(f"{name} not installed (./dev setup builds it)")


def _run(args: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, input=stdin, capture_output=True, text=True, timeout=120)


def _render(*sets: str) -> str:
    args = [_tool("helm"), "template", "callpipe", str(CHART), "--kube-version", K8S_VERSION]
    for item in sets:
        args += ["--set", item]
    result = _run(args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _docs(rendered: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(rendered) if d]


def _kubeconform(rendered: str) -> dict[str, Any]:
    result = _run(
        [
            _tool("kubeconform"),
            "-strict",
            "-summary",
            "-output",
            "json",
            "-kubernetes-version",
            K8S_VERSION,
            "-schema-location",
            str(
                SCHEMAS
                / "{{.NormalizedKubernetesVersion}}-standalone-strict/{{.ResourceKind}}{{.KindSuffix}}.json"
            ),
            "-schema-location",
            str(SCHEMAS / "{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json"),
            "-",
        ],
        stdin=rendered,
    )
    report: dict[str, Any] = json.loads(result.stdout)
    report["returncode"] = result.returncode
    return report


def _readme_settings() -> tuple[set[str], set[str]]:
    """Every environment variable of the configuration table (docs/configuration.md), and those
    marked secret."""
    names, secrets = set(), set()
    for line in (REPO / "docs" / "configuration.md").read_text().splitlines():
        if match := re.match(r"^\| `([A-Z][A-Z0-9_]+)` \|[^|]*\| (.*)\|$", line):
            names.add(match.group(1))
            if "**secret**" in match.group(2):
                secrets.add(match.group(1))
    return names, secrets


VARIANTS = {
    "defaults": (),
    "dynamic membership, no autoscalers, secrets": (
        "staticMembership=false",
        "keda.enabled=false",
        "hpa.enabled=false",
        "existingSecret=callpipe-shared",
        "secret.KAFKA_SASL_PASSWORD=x",
        "services.sink.secret.CLICKHOUSE_PASSWORD=x",
        "services.sink.config.CLICKHOUSE_CLUSTER=callpipe",
        "image.registry=registry.example.com/callpipe",
    ),
}


def test_helm_lint_passes() -> None:
    result = _run([_tool("helm"), "lint", str(CHART), "--strict", "--kube-version", K8S_VERSION])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_every_rendered_manifest_is_valid_for_kubernetes_and_keda(variant: str) -> None:
    rendered = _render(*VARIANTS[variant])
    report = _kubeconform(rendered)
    summary = report["summary"]
    assert report["returncode"] == 0, report["resources"]
    assert summary["invalid"] == 0 and summary["errors"] == 0 and summary["skipped"] == 0, summary
    assert summary["valid"] == len(_docs(rendered)) >= 14


@pytest.mark.parametrize(
    ("kind", "path", "field"),
    [
        ("ScaledObject", ("spec",), "lagThresold"),
        ("StatefulSet", ("spec", "template", "spec"), "terminationGracePeriod"),
    ],
)
def test_the_validation_rejects_a_misspelt_field(kind: str, path: tuple[str, ...], field: str) -> None:
    docs = _docs(_render())
    target = next(d for d in docs if d["kind"] == kind)
    node = target
    for key in path:
        node = node[key]
    node[field] = 1
    report = _kubeconform(yaml.safe_dump_all(docs))
    assert report["summary"]["invalid"] == 1, report["summary"]


def test_config_uses_the_services_own_variable_names_and_secrets_stay_in_secrets() -> None:
    names, secret_names = _readme_settings()
    assert len(secret_names) >= 8
    sets = [f"secret.{n}=x" for n in sorted(secret_names)]
    docs = _docs(_render(*sets))
    config_keys = {k for d in docs if d["kind"] == "ConfigMap" for k in d["data"]}
    secret_keys = {k for d in docs if d["kind"] == "Secret" for k in d["stringData"]}
    unknown = (config_keys | secret_keys) - names - {"CLICKHOUSE_CLUSTER"}
    assert not unknown, f"not read by any service: {unknown}"
    assert not config_keys & secret_names, "secrets rendered into a ConfigMap"
    assert secret_keys == secret_names


def _workloads(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        d["metadata"]["labels"]["app.kubernetes.io/component"]: d
        for d in docs
        if d["kind"] in ("Deployment", "StatefulSet")
    }


def test_consumers_have_static_membership_from_the_pod_name_and_scale_on_their_lag() -> None:
    docs = _render()
    parsed = _docs(docs)
    workloads = _workloads(parsed)
    config = {d["metadata"]["name"]: d["data"] for d in parsed if d["kind"] == "ConfigMap"}
    scaled = {d["spec"]["scaleTargetRef"]["name"]: d for d in parsed if d["kind"] == "ScaledObject"}
    for stage, topic in CONSUMERS.items():
        workload = workloads[stage]
        assert workload["kind"] == "StatefulSet", stage
        container = workload["spec"]["template"]["spec"]["containers"][0]
        env = {e["name"]: e for e in container.get("env", [])}
        assert env["RUNNER_INSTANCE_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
        assert "replicas" not in workload["spec"], "KEDA owns the replica count"
        so = scaled[workload["metadata"]["name"]]
        assert so["spec"]["scaleTargetRef"]["kind"] == "StatefulSet"
        trigger = so["spec"]["triggers"][0]
        assert trigger["type"] == "kafka"
        assert trigger["metadata"]["consumerGroup"] == f"callpipe-{stage}"
        assert trigger["metadata"]["topic"] == topic
        settings = config[workload["metadata"]["name"]]
        partitions = int(settings["KAFKA_TOPIC_PARTITIONS"])
        assert 1 <= so["spec"]["minReplicaCount"] <= so["spec"]["maxReplicaCount"] <= partitions
        # Messages in flight count as lag: a threshold below them would scale up for nothing.
        in_flight = int(settings.get("RUNNER_MAX_IN_FLIGHT", 8))
        assert int(trigger["metadata"]["lagThreshold"]) > in_flight, stage
        assert workload["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > 30
    hpas = {d["spec"]["scaleTargetRef"]["name"] for d in parsed if d["kind"] == "HorizontalPodAutoscaler"}
    assert hpas == {workloads["ingest"]["metadata"]["name"], workloads["insights"]["metadata"]["name"]}


def test_without_static_membership_consumers_are_deployments_without_an_instance_id() -> None:
    parsed = _docs(_render("staticMembership=false"))
    workloads = _workloads(parsed)
    for stage in CONSUMERS:
        assert workloads[stage]["kind"] == "Deployment"
        assert "env" not in workloads[stage]["spec"]["template"]["spec"]["containers"][0]
    assert {d["spec"]["scaleTargetRef"]["kind"] for d in parsed if d["kind"] == "ScaledObject"} == {
        "Deployment"
    }


def _served_paths() -> dict[str, set[str]]:
    """Paths each process serves, read from the code that serves them."""
    health = (REPO / "src/callpipe/observability/_health.py").read_text()
    runner = set(re.findall(r'== "(/\w+)"', health))
    ingest = set(
        re.findall(r'@app\.get\(\s*"(/\w+)"', (REPO / "services/ingest/callpipe_ingest/app.py").read_text())
    )
    insights = set(
        re.findall(r'@app\.get\("(/\w+)"', (REPO / "services/sink/callpipe_sink/insights/app.py").read_text())
    )
    # The alerts job's only HTTP server is faust's web server; "/" is its status page.
    faust_index = Path(faust.__file__).parent / "web" / "apps" / "production_index.py"
    alerts = set(re.findall(r'@blueprint\.route\("(/\w*)"', faust_index.read_text()))
    return {"runner": runner, "ingest": ingest, "insights": insights, "alerts": alerts}


def _probe_paths(container: dict[str, Any]) -> set[str]:
    """The path every probe asks for: an httpGet path, or the URL of an in-container probe."""
    paths = set()
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        spec = container[probe]
        if "httpGet" in spec:
            paths.add(spec["httpGet"]["path"])
        elif "exec" in spec:
            match = re.search(r"http://127\.0\.0\.1:\d+(/\S*?)'", " ".join(spec["exec"]["command"]))
            assert match, spec
            paths.add(match.group(1))
    return paths


def test_probes_use_paths_the_services_serve_and_every_workload_has_a_budget() -> None:
    served = _served_paths()
    assert {"/healthz", "/readyz"} <= served["ingest"] and "/healthz" in served["runner"]
    parsed = _docs(_render())
    workloads = _workloads(parsed)
    assert set(workloads) == {"ingest", "transcriber", "analyzer", "sink", "insights", "alerts"}
    for name, workload in workloads.items():
        container = workload["spec"]["template"]["spec"]["containers"][0]
        paths = _probe_paths(container)
        assert paths, name
        assert paths <= served[name if name in ("ingest", "insights", "alerts") else "runner"], (name, paths)
        assert container["resources"]["requests"]["cpu"] and container["resources"]["limits"]["memory"]
    assert (
        workloads["ingest"]["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["path"]
        == "/readyz"
    )
    budgets = {d["metadata"]["name"] for d in parsed if d["kind"] == "PodDisruptionBudget"}
    assert budgets == {w["metadata"]["name"] for w in workloads.values()}


def _compose_images() -> dict[str, str]:
    """Image name -> service module of every compose service built from the one recipe."""
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    images = {}
    for spec in compose["services"].values():
        build = spec.get("build")
        if isinstance(build, dict) and build.get("dockerfile") == "services/Dockerfile":
            service = build["args"]["SERVICE"]
            images[f"callpipe-{service}"] = f"callpipe_{service}"
    return images


def test_every_service_image_runs_in_the_chart_with_a_module_that_exists() -> None:
    compose_images = _compose_images()
    assert len(compose_images) >= 5
    workloads = _workloads(_docs(_render()))
    chart_images: dict[str, set[str]] = {}
    for name, workload in workloads.items():
        container = workload["spec"]["template"]["spec"]["containers"][0]
        image = container["image"].rsplit(":", 1)[0]
        chart_images.setdefault(image, set()).add(name)
        command = container["command"]
        assert command[:2] == ["python", "-m"], (name, command)
        module = command[2]
        assert compose_images.get(image) == module, (name, image, module)
        assert list(REPO.glob(f"services/*/{module}/__main__.py")), f"{name}: no module {module}"
    # A service added to docker-compose.yml without a chart workload would never run on Kubernetes.
    assert set(chart_images) == set(compose_images)


def test_the_alerts_job_is_one_recreated_deployment_without_service_autoscaler_or_instance_id() -> None:
    for sets in ((), ("staticMembership=false",)):
        parsed = _docs(_render(*sets))
        alerts = _workloads(parsed)["alerts"]
        name = alerts["metadata"]["name"]
        assert alerts["kind"] == "Deployment"
        # One aggregating replica (its facts topic has one partition) and no overlap in a rollout.
        assert alerts["spec"]["replicas"] == 1
        assert alerts["spec"]["strategy"] == {"type": "Recreate"}
        pod = alerts["spec"]["template"]
        container = pod["spec"]["containers"][0]
        assert "env" not in container, "static membership is the stage runner's, not faust's"
        assert "ports" not in container, "faust's web server listens on 127.0.0.1 only"
        assert not any(k.startswith("prometheus.io/") for k in pod["metadata"]["annotations"])
        targets = {
            d["spec"]["scaleTargetRef"]["name"] for d in parsed if "scaleTargetRef" in d.get("spec", {})
        }
        assert name not in targets
        assert name not in {d["metadata"]["name"] for d in parsed if d["kind"] == "Service"}
        assert name in {d["metadata"]["name"] for d in parsed if d["kind"] == "PodDisruptionBudget"}
        config = next(d["data"] for d in parsed if d["kind"] == "ConfigMap" and d["metadata"]["name"] == name)
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            command = " ".join(container[probe]["exec"]["command"])
            assert f"http://127.0.0.1:{config['ALERTS_WEB_PORT']}/" in command, probe


def test_the_alerts_webhook_secret_lands_in_its_own_secret_only() -> None:
    parsed = _docs(_render("services.alerts.secret.ALERTS_WEBHOOK_SECRET=s3cret"))
    holders = {
        d["metadata"]["name"]
        for d in parsed
        if d["kind"] == "Secret" and "ALERTS_WEBHOOK_SECRET" in d["stringData"]
    }
    assert holders == {"callpipe-alerts"}
    alerts = _workloads(parsed)["alerts"]["spec"]["template"]["spec"]["containers"][0]
    assert {"secretRef": {"name": "callpipe-alerts"}} in alerts["envFrom"]


class _StatusPage(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = 200 if self.path == "/" else 404
        self.send_response(status)
        self.end_headers()
        self.wfile.write(b'{"status": "OK"}')

    def log_message(self, format: str, *args: Any) -> None:
        return


def test_the_alerts_in_container_probe_passes_while_the_page_answers_and_fails_when_it_stops() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StatusPage)
    port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    parsed = _docs(_render(f"services.alerts.port={port}", f"services.alerts.config.ALERTS_WEB_PORT={port}"))
    container = _workloads(parsed)["alerts"]["spec"]["template"]["spec"]["containers"][0]
    command = container["livenessProbe"]["exec"]["command"]
    assert command[0] == "python"
    probe = [sys.executable, *command[1:]]
    try:
        assert subprocess.run(probe, capture_output=True, timeout=30).returncode == 0
    finally:
        server.shutdown()
        server.server_close()
    assert subprocess.run(probe, capture_output=True, timeout=30).returncode != 0
