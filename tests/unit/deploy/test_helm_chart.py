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
from pathlib import Path
from typing import Any

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
    """Every environment variable of the README config table, and those marked secret."""
    names, secrets = set(), set()
    for line in (REPO / "README.md").read_text().splitlines():
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
    return {"runner": runner, "ingest": ingest, "insights": insights}


def test_probes_use_paths_the_services_serve_and_every_workload_has_a_budget() -> None:
    served = _served_paths()
    assert {"/healthz", "/readyz"} <= served["ingest"] and "/healthz" in served["runner"]
    parsed = _docs(_render())
    workloads = _workloads(parsed)
    assert set(workloads) == {"ingest", "transcriber", "analyzer", "sink", "insights"}
    for name, workload in workloads.items():
        container = workload["spec"]["template"]["spec"]["containers"][0]
        paths = {
            container[p]["httpGet"]["path"]
            for p in ("startupProbe", "livenessProbe", "readinessProbe")
            if "httpGet" in container[p]
        }
        assert paths <= served[name if name in ("ingest", "insights") else "runner"], (name, paths)
        assert container["resources"]["requests"]["cpu"] and container["resources"]["limits"]["memory"]
    assert (
        workloads["ingest"]["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["path"]
        == "/readyz"
    )
    budgets = {d["metadata"]["name"] for d in parsed if d["kind"] == "PodDisruptionBudget"}
    assert budgets == {w["metadata"]["name"] for w in workloads.values()}
