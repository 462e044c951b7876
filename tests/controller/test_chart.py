"""The Helm chart stays in step with the code (no helm binary needed for these checks)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from okta_hris import __version__

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "okta-hris-operator"


def test_the_chart_ships_the_generated_crd() -> None:
    generated = (REPO / "crds" / "oktaintegrations.hris.dev.yaml").read_text(encoding="utf-8")
    shipped = (CHART / "crds" / "oktaintegrations.hris.dev.yaml").read_text(encoding="utf-8")
    assert shipped == generated, "copy crds/oktaintegrations.hris.dev.yaml into the chart"


def test_the_chart_ships_kopf_peering_crds() -> None:
    docs = list(yaml.safe_load_all((CHART / "crds" / "kopfpeerings.kopf.dev.yaml").read_text()))
    assert {d["spec"]["names"]["kind"] for d in docs} == {"KopfPeering", "ClusterKopfPeering"}


def test_chart_version_and_defaults() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert chart["appVersion"] == __version__
    assert values["replicaCount"] == 2
    assert values["peering"]["name"]
    assert values["podSecurityContext"]["runAsNonRoot"] is True


def _operator_rules() -> list[dict[str, Any]]:
    helpers = (CHART / "templates" / "_helpers.tpl").read_text()
    block = re.search(r'define "okta-hris.rules" -}}\n(.*?)\n{{- end -}}', helpers, re.S)
    assert block is not None
    rules: list[dict[str, Any]] = yaml.safe_load(block.group(1))
    return rules


def test_rbac_is_least_privilege() -> None:
    rules = {(r["apiGroups"][0], r["resources"][0]): set(r["verbs"]) for r in _operator_rules()}
    assert rules[("", "secrets")] == {"get", "list", "watch"}  # read, never write
    assert rules[("", "events")] == {"create"}
    assert rules[("hris.dev", "oktaintegrations")] == {"get", "list", "watch", "patch"}
    assert rules[("hris.dev", "oktaintegrations/status")] == {"get", "patch"}
    for template in (CHART / "templates").iterdir():
        text = template.read_text()
        assert '"*"' not in text and "['*']" not in text, template.name


def _enclosing(template: str, needle: str) -> list[str]:
    """The conditions of the if/with/range blocks around the line containing ``needle``."""
    stack: list[str] = []
    for line in (CHART / "templates" / template).read_text().splitlines():
        if needle in line:
            return stack
        for action in re.findall(r"{{-?\s*(.*?)\s*-?}}", line):
            word = action.split(" ", 1)[0]
            if word in ("if", "with", "range"):
                stack.append(action)
            elif word == "end":
                stack.pop()
            elif word == "else" and stack:
                stack[-1] = f"{stack[-1]} / {action}"
    raise AssertionError(f"{needle!r} is not in {template}")


def test_the_default_install_watches_only_its_own_namespace() -> None:
    """Cluster-wide mode reads every Secret in the cluster: it must be asked for."""
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["clusterWide"] is False and values["watchNamespaces"] == []
    helpers = (CHART / "templates" / "_helpers.tpl").read_text()
    clusterwide = re.search(
        r'define "okta-hris.clusterwide" -}}\n(.*?){{- end -}}\n', helpers, re.S
    )
    assert clusterwide is not None and ".Values.clusterWide" in clusterwide.group(1)
    default = ".Values.watchNamespaces | default (list .Release.Namespace)"
    for template in ("deployment.yaml", "rbac.yaml", "peering.yaml", "NOTES.txt"):
        assert default in (CHART / "templates" / template).read_text(), template
    assert _enclosing("rbac.yaml", "kind: ClusterRole") == ['if include "okta-hris.clusterwide" .']
    notes = (CHART / "templates" / "NOTES.txt").read_text()
    assert "reads EVERY Secret in the cluster" in notes


def test_the_metrics_service_announces_the_metrics_port() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert not any(
        k.startswith("prometheus.io") for k in values["metrics"]["service"]["annotations"]
    )
    service = (CHART / "templates" / "service.yaml").read_text()
    assert '"prometheus.io/port" (toString .Values.metrics.port)' in service


def test_a_port_set_to_zero_is_not_declared() -> None:
    """``livenessPort: 0`` turns the endpoint off: no containerPort 0, no probe."""
    assert (
        ".Values.livenessPort"
        in _enclosing("deployment.yaml", "containerPort: {{ .Values.livenessPort }}")[-1]
    )
    assert _enclosing("deployment.yaml", "livenessProbe:")[-1] == "if .Values.livenessPort"
    assert (
        ".Values.metrics.port"
        in _enclosing("deployment.yaml", "containerPort: {{ .Values.metrics.port }}")[-1]
    )


def test_replicas_survive_node_drains_and_spread_over_nodes() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["podDisruptionBudget"] == {"enabled": True, "minAvailable": 1}
    assert values["podAntiAffinity"] == "soft"
    pdb = (CHART / "templates" / "pdb.yaml").read_text()
    assert "kind: PodDisruptionBudget" in pdb and "apiVersion: policy/v1" in pdb
    assert _enclosing("pdb.yaml", "minAvailable:") == [
        "if and .Values.podDisruptionBudget.enabled (gt (int .Values.replicaCount) 1)"
    ]
    soft = _enclosing("deployment.yaml", "preferredDuringSchedulingIgnoredDuringExecution")
    assert soft[-1].startswith(
        "if .Values.affinity / else if and (gt (int .Values.replicaCount) 1)"
    )
    assert '(eq .Values.podAntiAffinity "soft")' in soft[-1]
    deployment = (CHART / "templates" / "deployment.yaml").read_text()
    assert "topologyKey: kubernetes.io/hostname" in deployment
