"""Render the Helm chart offline with Helm's own code (helm-python-sdk) and read what it made.

Helm validates the values against values.schema.json and runs every template as `helm install`
and `helm template` do; no cluster is involved (``lookup`` returns nothing, and the
capabilities are Helm's defaults).
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import helm_python
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "okta-hris-operator"
RELEASE = "hris"
NAMESPACE = "okta-hris"
POSTGRES_SECRET = {"database": {"existingSecret": {"name": "hris-database"}}}

# The combinations every structural test runs over (rendered once each, then cached).
COMBINATIONS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "postgres-ha": {**POSTGRES_SECRET, "replicaCount": 3},
    "cluster-wide": {
        "clusterWide": True,
        "database": {"url": "postgresql+psycopg://hris@postgres.db.svc/hris"},
        "replicaCount": 2,
        "podAntiAffinity": "hard",
    },
    "watch-namespaces": {
        "watchNamespaces": ["people-ops", "finance"],
        "rbac": {"secretNames": ["okta-api-token", "smtp-relay"]},
    },
    "observability": {
        **POSTGRES_SECRET,
        "replicaCount": 2,
        "metrics": {"serviceMonitor": {"enabled": True}, "prometheusRule": {"enabled": True}},
        "networkPolicy": {"enabled": True},
    },
    "no-crds": {"crds": {"install": False}},
    "name-overrides": {"nameOverride": "directory", "livenessPort": 0},
    "fullname-override": {"fullnameOverride": "people-sync", "crds": {"keep": False}},
}


@dataclass(frozen=True)
class Rendered:
    """The objects one render produced, and its NOTES.txt."""

    objects: tuple[dict[str, Any], ...]
    notes: str

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] == kind]

    def one(self, kind: str) -> dict[str, Any]:
        found = self.of_kind(kind)
        assert len(found) == 1, f"{len(found)} objects of kind {kind}"
        return found[0]

    def container(self) -> dict[str, Any]:
        containers: list[dict[str, Any]] = self.one("Deployment")["spec"]["template"]["spec"][
            "containers"
        ]
        assert len(containers) == 1
        return containers[0]

    def env(self) -> dict[str, dict[str, Any]]:
        """The container's environment, by variable name."""
        return {e["name"]: e for e in self.container()["env"]}


@functools.cache
def chart() -> helm_python.Chart:
    return helm_python.Chart.load(CHART)


def render(
    values: dict[str, Any] | None = None, *, name: str = RELEASE, namespace: str = NAMESPACE
) -> Rendered:
    """Render the chart; Helm's errors (schema, `fail`) propagate as HelmError."""
    return _render(json.dumps(values or {}, sort_keys=True), name, namespace)


@functools.cache
def _render(values_json: str, name: str, namespace: str) -> Rendered:
    manifests = chart().render(
        json.loads(values_json), name=name, namespace=namespace, is_install=True
    )
    objects: list[dict[str, Any]] = []
    notes = ""
    for path, text in sorted(manifests.items()):
        if path.endswith("NOTES.txt"):
            notes = text
            continue
        objects += [doc for doc in yaml.safe_load_all(text) if doc]
    return Rendered(tuple(objects), notes)


def helm_error(values: dict[str, Any]) -> str:
    """The message Helm refuses these values with (the test fails if it renders them)."""
    try:
        render(values)
    except helm_python.HelmError as error:
        return str(error)
    raise AssertionError(f"Helm rendered {values}")


def chart_metadata() -> dict[str, Any]:
    metadata: dict[str, Any] = yaml.safe_load((CHART / "Chart.yaml").read_text(encoding="utf-8"))
    return metadata


def minimum_kube_version() -> str:
    """The lowest Kubernetes version Chart.yaml's kubeVersion admits, e.g. "1.25"."""
    found = re.fullmatch(r">=\s*(\d+\.\d+)\.\d+(-0)?", chart_metadata()["kubeVersion"])
    assert found, chart_metadata()["kubeVersion"]
    return found.group(1)
