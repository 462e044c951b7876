"""values.schema.json and the chart's own checks refuse a wrong value with Helm's one-line error.

Helm validates the merged values against the schema on install, upgrade, template and lint; a
typo fails there instead of crash-looping the operator or silently doing nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import helm_python
import pytest
import yaml

from tests.chart.rendering import CHART, POSTGRES_SECRET, helm_error, render

SCHEMA_ERROR = "values don't meet the specifications of the schema(s)"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"podAntiAffinity": "Soft"},
            "at '/podAntiAffinity': value must be one of 'soft', 'hard', ''",
        ),
        ({"logFormat": "yaml"}, "at '/logFormat': value must be one of 'json', 'full', 'plain'"),
        ({"replicaCount": "2"}, "at '/replicaCount': got string, want integer"),
        ({"replicaCuont": 2}, "additional properties 'replicaCuont' not allowed"),
        (
            {"metrics": {"serviceMonitor": {"enable": True}}},
            "additional properties 'enable' not allowed",
        ),
        (
            {"database": {"sqlite": {"enabled": True}}},
            "additional properties 'enabled' not allowed",
        ),
        ({"database": {"url": "sqlite:///directory.db"}}, "at '/database/url'"),
        ({"timing": {"retryBackoff": "30 sec"}}, "at '/timing/retryBackoff'"),
        ({"timing": {"syncJitter": 2}}, "at '/timing/syncJitter'"),
        ({"metrics": {"port": 70000}}, "at '/metrics/port': maximum"),
        ({"livenessPort": "8080"}, "at '/livenessPort': got string, want integer"),
        (
            {"metrics": {"serviceMonitor": {"interval": "30 seconds"}}},
            "at '/metrics/serviceMonitor/interval'",
        ),
        ({"watchNamespaces": ["People-Ops"]}, "at '/watchNamespaces/0'"),
        ({"maxConcurrentSyncs": 0}, "at '/maxConcurrentSyncs': minimum"),
        ({"resources": {"limit": {"memory": "1Gi"}}}, "additional properties 'limit' not allowed"),
        (
            {"rbac": {"secretNames": "okta-api-token"}},
            "at '/rbac/secretNames': got string, want array",
        ),
        ({"networkPolicy": {"smtp": {"ports": [0]}}}, "at '/networkPolicy/smtp/ports/0': minimum"),
        ({"podSecurityContext": {"runAsUsr": 1}}, "additional properties 'runAsUsr' not allowed"),
        (
            {"securityContext": {"readOnlyRootFileSystem": True}},
            "additional properties 'readOnlyRootFileSystem' not allowed",
        ),
        (
            {"affinity": {"podAntiAfinity": {}}},
            "additional properties 'podAntiAfinity' not allowed",
        ),
        ({"timing": {"secretRetry": "soon"}}, "at '/timing/secretRetry'"),
    ],
)
def test_the_schema_refuses(values: dict[str, Any], message: str) -> None:
    error = helm_error(values)
    assert SCHEMA_ERROR in error and message in error


def test_helm_lint_reports_a_typo_too() -> None:
    report = helm_python.lint(CHART, {"podAntiAffinity": "Soft"})
    assert any("/podAntiAffinity" in m["error"] and m["severity"] == 3 for m in report["messages"])


@pytest.mark.parametrize(
    "values",
    [
        {"replicaCount": 2},
        {"replicaCount": 3, "database": {"existingSecret": {"key": "url"}}},
    ],
)
def test_several_replicas_need_postgresql(values: dict[str, Any]) -> None:
    error = helm_error(values)
    assert f"replicaCount={values['replicaCount']} needs PostgreSQL" in error
    assert "database.existingSecret.name" in error


@pytest.mark.parametrize(
    "database",
    [
        POSTGRES_SECRET["database"],
        {"url": "postgresql+psycopg://hris@postgres.db.svc:5432/hris"},
    ],
)
def test_several_replicas_run_on_postgresql(database: dict[str, Any]) -> None:
    assert (
        render({"replicaCount": 2, "database": database}).one("Deployment")["spec"]["replicas"] == 2
    )


def test_one_database_source_at_a_time() -> None:
    values = {"database": {**POSTGRES_SECRET["database"], "url": "postgresql://db/hris"}}
    assert "set database.existingSecret.name or database.url, not both" in helm_error(values)


def test_a_service_monitor_needs_the_metrics_service() -> None:
    values = {"metrics": {"serviceMonitor": {"enabled": True}, "service": {"enabled": False}}}
    assert "metrics.serviceMonitor.enabled scrapes the metrics Service" in helm_error(values)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"database": {"url": "postgresql://hris:hunter2@db/hris"}},
            "database.url must not hold a password",
        ),
        ({"metrics": {"port": 8080}}, "livenessPort and metrics.port must differ"),
        (
            {"metrics": {"port": 0, "prometheusRule": {"enabled": True}}},
            "metrics.prometheusRule.enabled alerts on the operator's metrics",
        ),
        (
            {
                "networkPolicy": {
                    "enabled": True,
                    "okta": {"to": [{"ipBlock": {"cidr": "1.2.3.0/24"}}]},
                }
            },
            "networkPolicy.kubeApi.to is empty and so allows 443 to anywhere",
        ),
    ],
)
def test_values_that_would_not_do_what_they_say_are_refused(
    values: dict[str, Any], message: str
) -> None:
    error = helm_error(values)
    assert message in error
    assert "hunter2" not in error


def test_the_secret_retry_setting_reaches_the_operator() -> None:
    assert render({"timing": {"secretRetry": "45s"}}).env()["HRIS_SECRET_RETRY"]["value"] == "45s"


def test_cluster_wide_and_namespaces_exclude_each_other() -> None:
    error = helm_error({"clusterWide": True, "watchNamespaces": ["people-ops"]})
    assert "clusterWide=true watches every namespace" in error


def test_set_flags_parse_into_values_the_schema_accepts() -> None:
    """`--set timing.retryBackoff=45 --set timing.syncJitter=0.2` gives numbers, not strings."""
    values = helm_python.parse_set_string("timing.retryBackoff=45,timing.syncJitter=0.2")
    env = render(values).env()
    assert env["HRIS_RETRY_BACKOFF"]["value"] == "45"
    assert env["HRIS_SYNC_JITTER"]["value"] == "0.2"
    assert "HRIS_STALLED_RETRY" not in env  # empty: the operator's default


def _schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((CHART / "values.schema.json").read_text(encoding="utf-8"))
    return schema


def _resolve(node: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if ref is None:
        return node
    return _resolve(schema["definitions"][ref.removeprefix("#/definitions/")], schema)


def _objects(
    node: dict[str, Any], schema: dict[str, Any], path: str
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema node of type object under ``node``, with its values path."""
    node = _resolve(node, schema)
    if node.get("type") == "object":
        yield path, node
    for name, child in node.get("properties", {}).items():
        if isinstance(child, dict):
            yield from _objects(child, schema, f"{path}.{name}")


# Kubernetes types passed through whole (the apiserver validates them), and maps of free keys.
OPEN_OBJECTS = {
    ".global",
    ".podSecurityContext",
    ".securityContext",
    ".affinity",
    ".resources.requests",
    ".resources.limits",
}


def test_every_object_the_chart_owns_refuses_unknown_keys() -> None:
    schema = _schema()
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    for path, node in _objects(schema, schema, ""):
        if path in OPEN_OBJECTS:
            continue
        free_map = isinstance(node.get("additionalProperties"), dict)  # labels, nodeSelector
        assert node.get("additionalProperties") is False or free_map, path


def _value_paths(values: Any, path: str = "") -> set[str]:
    if not isinstance(values, dict) or not values or path in OPEN_OBJECTS:
        return {path}
    return {p for key, child in values.items() for p in _value_paths(child, f"{path}.{key}")}


def _schema_paths(node: dict[str, Any], schema: dict[str, Any], path: str = "") -> set[str]:
    node = _resolve(node, schema)
    properties = node.get("properties")
    if not properties or path in OPEN_OBJECTS:
        return {path}
    return {
        p
        for key, child in properties.items()
        for p in _schema_paths(child, schema, f"{path}.{key}")
    }


def test_values_yaml_and_the_schema_name_the_same_keys() -> None:
    """No key documented in values.yaml that the schema refuses, none in the schema unlisted."""
    values = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))
    schema = _schema()
    in_schema = _schema_paths(schema, schema) - {".global"}
    in_values = _value_paths(values)
    # Free maps whose default is empty ({}) appear in values.yaml as the map itself.
    assert in_values == in_schema
