"""Everything the chart renders is a valid Kubernetes object, on every version it admits.

Built-in kinds are checked against Kubernetes' own schemas (kubernetes-validate, strict: an
unknown field fails); the kinds of CRDs (Kopf's peering objects, prometheus-operator's
ServiceMonitor and PrometheusRule) against schemas of the fields they define. `helm lint
--strict` passes on every combination.
"""

from __future__ import annotations

import copy
from typing import Any

import helm_python
import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.chart.rendering import CHART, COMBINATIONS, minimum_kube_version, render

# Helm's default capabilities for an offline render are v1.36; the chart admits 1.25 and later.
NEWEST_KUBERNETES = "1.36"

_STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
_NAME = {
    "type": "string",
    "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
}
_METADATA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name"],
    "properties": {
        "name": _NAME,
        "namespace": _NAME,
        "labels": _STRING_MAP,
        "annotations": _STRING_MAP,
    },
}
# monitoring.coreos.com/v1 Duration.
_PROMETHEUS_DURATION = {
    "type": "string",
    "pattern": "^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$",
}


def _custom_object(api_version: str, kind: str, spec: dict[str, Any] | None) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "apiVersion": {"const": api_version},
        "kind": {"const": kind},
        "metadata": _METADATA,
    }
    if spec is not None:
        properties["spec"] = spec
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["apiVersion", "kind", "metadata", *(["spec"] if spec else [])],
        "properties": properties,
    }


def _strict(properties: dict[str, Any], *required: str) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": list(required),
        "properties": properties,
    }


# The fields of prometheus-operator's monitoring.coreos.com/v1 API that the chart may write.
SERVICE_MONITOR_SPEC = _strict(
    {
        "namespaceSelector": _strict(
            {"any": {"type": "boolean"}, "matchNames": {"type": "array", "items": _NAME}}
        ),
        "selector": _strict({"matchLabels": _STRING_MAP}, "matchLabels"),
        "endpoints": {
            "type": "array",
            "minItems": 1,
            "items": _strict(
                {
                    "port": {"type": "string", "minLength": 1},
                    "path": {"type": "string", "pattern": "^/"},
                    "interval": _PROMETHEUS_DURATION,
                    "scrapeTimeout": _PROMETHEUS_DURATION,
                    "honorLabels": {"type": "boolean"},
                    "relabelings": {"type": "array", "items": {"type": "object"}},
                    "metricRelabelings": {"type": "array", "items": {"type": "object"}},
                },
                "port",
            ),
        },
    },
    "selector",
    "endpoints",
)
_RULE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["expr"],
    "oneOf": [{"required": ["alert"]}, {"required": ["record"]}],
    "properties": {
        "alert": {"type": "string", "minLength": 1},
        "record": {"type": "string", "minLength": 1},
        "expr": {"type": "string", "minLength": 1},
        "for": _PROMETHEUS_DURATION,
        "labels": _STRING_MAP,
        "annotations": _STRING_MAP,
    },
}
PROMETHEUS_RULE_SPEC = _strict(
    {
        "groups": {
            "type": "array",
            "minItems": 1,
            "items": _strict(
                {
                    "name": {"type": "string", "minLength": 1},
                    "rules": {"type": "array", "minItems": 1, "items": _RULE},
                },
                "name",
                "rules",
            ),
        }
    },
    "groups",
)


def _peering_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """Kopf's peering kinds as the chart's crds/ defines them: no spec, status only."""
    schemas = {}
    path = CHART / "crds" / "kopfpeerings.kopf.dev.yaml"
    for crd in yaml.safe_load_all(path.read_text(encoding="utf-8")):
        (version,) = crd["spec"]["versions"]
        api_version = f"{crd['spec']['group']}/{version['name']}"
        kind = crd["spec"]["names"]["kind"]
        schema = _custom_object(api_version, kind, None)
        if crd["spec"]["scope"] == "Namespaced":
            schema["properties"]["metadata"] = {**_METADATA, "required": ["name", "namespace"]}
        else:
            schema["properties"]["metadata"] = {
                **_METADATA,
                "not": {"required": ["namespace"]},
            }
        schemas[(api_version, kind)] = schema
    return schemas


CUSTOM_KINDS: dict[tuple[str, str], dict[str, Any]] = {
    **_peering_schemas(),
    ("monitoring.coreos.com/v1", "ServiceMonitor"): _custom_object(
        "monitoring.coreos.com/v1", "ServiceMonitor", SERVICE_MONITOR_SPEC
    ),
    ("monitoring.coreos.com/v1", "PrometheusRule"): _custom_object(
        "monitoring.coreos.com/v1", "PrometheusRule", PROMETHEUS_RULE_SPEC
    ),
}


def validation_errors(obj: dict[str, Any], kube_version: str) -> list[str]:
    """Why Kubernetes (or the CRD) would refuse ``obj``; empty when it is valid."""
    custom = CUSTOM_KINDS.get((obj["apiVersion"], obj["kind"]))
    if custom is not None:
        validator = jsonschema.Draft202012Validator(custom)
        return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(obj)]
    try:
        kubernetes_validate.validate(obj, kube_version, strict=True)
    except kubernetes_validate.ValidationError as error:
        return [f"{list(error.absolute_path)}: {error.message}"]
    return []


@pytest.mark.parametrize("combination", COMBINATIONS)
@pytest.mark.parametrize("kube_version", [minimum_kube_version(), NEWEST_KUBERNETES])
def test_every_rendered_object_is_valid(combination: str, kube_version: str) -> None:
    rendered = render(COMBINATIONS[combination])
    assert rendered.objects
    errors = {
        f"{o['kind']}/{o['metadata']['name']}": validation_errors(o, kube_version)
        for o in rendered.objects
    }
    assert {name: found for name, found in errors.items() if found} == {}


def test_the_validation_catches_an_unknown_field() -> None:
    """The strict schemas refuse what the apiserver's strict field validation would."""
    deployment = render().one("Deployment")
    typo = {**deployment, "spec": {**deployment["spec"], "replica": 1}}
    assert validation_errors(typo, NEWEST_KUBERNETES)
    monitor = render(COMBINATIONS["observability"]).one("ServiceMonitor")
    endpoint = {**monitor["spec"]["endpoints"][0], "honorLabel": True}
    bad_monitor = {**monitor, "spec": {**monitor["spec"], "endpoints": [endpoint]}}
    assert validation_errors(bad_monitor, NEWEST_KUBERNETES)


def test_the_crd_schema_itself_is_checked() -> None:
    """The OktaIntegration CRD's openAPIV3Schema is JSONSchemaProps: a keyword it lacks fails."""
    crd = copy.deepcopy(render().one("CustomResourceDefinition"))
    assert not validation_errors(crd, NEWEST_KUBERNETES)
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    schema["properties"]["spec"]["propertyNames"] = {"pattern": "^[a-z]"}
    assert validation_errors(crd, NEWEST_KUBERNETES)


def test_the_kopf_peering_objects_match_their_crd_scope() -> None:
    namespaced = render(COMBINATIONS["postgres-ha"]).one("KopfPeering")
    assert not validation_errors(namespaced, NEWEST_KUBERNETES)
    clusterwide = render(COMBINATIONS["cluster-wide"]).one("ClusterKopfPeering")
    moved = {**clusterwide, "metadata": {**clusterwide["metadata"], "namespace": "x"}}
    assert validation_errors(moved, NEWEST_KUBERNETES)


@pytest.mark.parametrize("combination", COMBINATIONS)
def test_helm_lint_strict_passes(combination: str) -> None:
    report = helm_python.lint(
        CHART,
        COMBINATIONS[combination],
        strict=True,
        namespace="okta-hris",
        kube_version=f"v{minimum_kube_version()}.0",
    )
    problems = [m for m in report["messages"] if m["severity"] >= 2]  # 2 warning, 3 error
    assert problems == [] and report["errors"] == []
