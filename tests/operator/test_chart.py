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
