"""Metrics Service, ServiceMonitor, PrometheusRule and NetworkPolicy.

The alerts may use only the metrics (and labels) the operator exports, as agreed between the
operator and the chart; their PromQL is parsed, not searched for names.
"""

from __future__ import annotations

import copy
from typing import Any

import promql_parser
import pytest

from tests.chart.rendering import COMBINATIONS, POSTGRES_SECRET, Rendered, render
from tests.support.metrics_interface import OPERATOR_METRICS

OBSERVABILITY = COMBINATIONS["observability"]


def _rules(rendered: Rendered) -> list[dict[str, Any]]:
    (group,) = rendered.one("PrometheusRule")["spec"]["groups"]
    rules: list[dict[str, Any]] = group["rules"]
    return rules


def _selectors_and_labels(expr: str) -> tuple[dict[str, set[str]], set[str]]:
    """The metrics an expression selects (with the labels matched on each), and the labels it
    groups or matches by."""
    selected: dict[str, set[str]] = {}
    grouping: set[str] = set()

    def visit(node: promql_parser.Expr) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            assert node.name, f"a selector without a metric name in {expr}"
            selected.setdefault(node.name, set()).update(m.name for m in node.matchers.matchers)
        elif isinstance(node, promql_parser.AggregateExpr) and node.modifier is not None:
            grouping.update(node.modifier.labels)
        elif (
            isinstance(node, promql_parser.BinaryExpr) and node.modifier and node.modifier.matching
        ):
            grouping.update(node.modifier.matching.labels)

    promql_parser.walk(promql_parser.parse(expr), visit)
    return selected, grouping


def test_the_alerts_use_only_the_operators_metrics_and_labels() -> None:
    rules = _rules(render(OBSERVABILITY))
    assert [r["alert"] for r in rules] == [
        "OktaHrisIntegrationNotReady",
        "OktaHrisSyncsFailing",
        "OktaHrisSyncHeld",
    ]
    used: set[str] = set()
    for rule in rules:
        selected, grouping = _selectors_and_labels(rule["expr"])
        for metric, labels in selected.items():
            assert metric in OPERATOR_METRICS, f"{rule['alert']}: {metric}"
            assert labels <= OPERATOR_METRICS[metric], f"{rule['alert']}: {metric}{labels}"
        assert grouping <= {"namespace", "name", "reason"}, rule["alert"]
        used |= set(selected)
    assert used == {
        "okta_hris_condition",
        "okta_hris_last_success_timestamp_seconds",
        "okta_hris_sync_interval_seconds",
        "okta_hris_suspended",
        "okta_hris_held_deactivations",
        "okta_hris_syncs_total",
    }


def test_the_expression_check_fails_on_an_unknown_metric() -> None:
    selected, grouping = _selectors_and_labels(
        'sum by (namespace) (rate(okta_hris_sync_total{outcome="failed"}[5m]))'
        " > on (integration) okta_hris_suspended"
    )
    assert set(selected) - set(OPERATOR_METRICS) == {"okta_hris_sync_total"}
    assert grouping == {"namespace", "integration"}


def test_not_ready_means_two_intervals_without_success_unless_suspended_or_held() -> None:
    (not_ready,) = [
        r for r in _rules(render(OBSERVABILITY)) if r["alert"] == "OktaHrisIntegrationNotReady"
    ]
    selected, _ = _selectors_and_labels(not_ready["expr"])
    assert selected["okta_hris_condition"] == {"type", "status"}
    assert 'okta_hris_condition{type="Ready", status="True"}' in " ".join(not_ready["expr"].split())
    assert "2 * max by (namespace, name) (okta_hris_sync_interval_seconds)" in not_ready["expr"]


def test_every_alert_has_severity_summary_description_and_a_runbook_hint() -> None:
    values = copy.deepcopy(OBSERVABILITY)
    values["metrics"]["prometheusRule"].update(
        runbookUrl="https://wiki.example.com/okta-hris#troubleshooting",
        additionalRuleLabels={"team": "people-platform"},
        labels={"release": "kube-prometheus-stack"},
        extraRules=[{"record": "okta_hris:employees:sum", "expr": "sum(okta_hris_employees)"}],
    )
    rendered = render(values)
    rule_object = rendered.one("PrometheusRule")
    assert rule_object["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    *alerts, extra = _rules(rendered)
    assert extra == {"record": "okta_hris:employees:sum", "expr": "sum(okta_hris_employees)"}
    for alert in alerts:
        assert alert["labels"]["severity"] in {"critical", "warning"}
        assert alert["labels"]["team"] == "people-platform"
        assert {"summary", "description", "runbook_url"} <= set(alert["annotations"])
        assert (
            "Troubleshooting table of the okta-hris-operator README"
            in alert["annotations"]["description"]
        )
        assert "{{ $labels.namespace }}/{{ $labels.name }}" in alert["annotations"]["summary"]
        promql_parser.parse_duration(alert["for"])  # a valid Prometheus duration
    plain = _rules(render(OBSERVABILITY))
    assert all("runbook_url" not in a["annotations"] for a in plain)


def test_alerts_can_be_turned_off_and_tuned() -> None:
    values = copy.deepcopy(OBSERVABILITY)
    values["metrics"]["prometheusRule"]["alerts"] = {
        "notReady": {"enabled": False, "for": "15m", "severity": "critical"},
        "syncFailures": {"enabled": True, "window": "1h", "for": "2h", "severity": "critical"},
    }
    (failing, held) = _rules(render(values))
    assert failing["alert"] == "OktaHrisSyncsFailing" and failing["for"] == "2h"
    assert "[1h]" in failing["expr"] and failing["labels"]["severity"] == "critical"
    assert held["alert"] == "OktaHrisSyncHeld"


def test_the_service_monitor_scrapes_the_metrics_service_keeping_the_namespace_label() -> None:
    rendered = render(OBSERVABILITY)
    monitor = rendered.one("ServiceMonitor")
    service = rendered.one("Service")
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    assert monitor["spec"]["namespaceSelector"] == {
        "matchNames": [service["metadata"]["namespace"]]
    }
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] == service["spec"]["ports"][0]["name"] == "metrics"
    assert endpoint["honorLabels"] is True  # the metrics' namespace label is the integration's
    assert (endpoint["interval"], endpoint["scrapeTimeout"]) == ("30s", "10s")
    assert render().of_kind("ServiceMonitor") == [] and render().of_kind("PrometheusRule") == []


def test_the_metrics_service_announces_its_port() -> None:
    service = render().one("Service")
    assert service["metadata"]["annotations"] == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": "9090",
        "prometheus.io/path": "/metrics",
    }
    assert service["spec"]["ports"] == [
        {"name": "metrics", "port": 9090, "targetPort": "metrics", "protocol": "TCP"}
    ]
    quiet = render({"metrics": {"service": {"prometheusAnnotations": False}}}).one("Service")
    assert "annotations" not in quiet["metadata"]


def _egress_ports(policy: dict[str, Any]) -> set[tuple[str, int]]:
    return {(p["protocol"], p["port"]) for rule in policy["spec"]["egress"] for p in rule["ports"]}


def _egress_to(policy: dict[str, Any], port: int) -> list[Any]:
    (rule,) = [r for r in policy["spec"]["egress"] if {p["port"] for p in r["ports"]} == {port}]
    to: list[Any] = rule.get("to", [])
    return to


def test_the_network_policy_allows_what_the_operator_needs() -> None:
    rendered = render(OBSERVABILITY)
    policy = rendered.one("NetworkPolicy")
    deployment = rendered.one("Deployment")
    assert policy["spec"]["podSelector"] == deployment["spec"]["selector"]
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    (ingress,) = policy["spec"]["ingress"]
    container_ports = {p["name"] for p in rendered.container()["ports"]}
    assert {p["port"] for p in ingress["ports"]} == container_ports == {"metrics", "liveness"}
    assert _egress_ports(policy) == {
        ("UDP", 53),
        ("TCP", 53),  # DNS
        ("TCP", 443),
        ("TCP", 6443),  # the Kubernetes API; 443 also Okta
        ("TCP", 5432),  # PostgreSQL
        ("TCP", 587),
        ("TCP", 465),
        ("TCP", 25),  # SMTP
    }
    assert _egress_to(policy, 443) == []  # Okta: DNS names cannot be matched, 443 anywhere
    assert render().of_kind("NetworkPolicy") == []


def test_the_network_policy_narrows_to_the_given_peers() -> None:
    okta = [{"ipBlock": {"cidr": "198.51.100.0/24"}}]
    database = [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "db"}}}]
    scrapers = [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    ]
    values = {
        **POSTGRES_SECRET,
        "networkPolicy": {
            "enabled": True,
            "okta": {"to": okta},
            # The API server on 6443 only: else its rule would open 443 to anywhere.
            "kubeApi": {"ports": [6443]},
            "database": {"to": database, "port": 6432},
            "smtp": {"ports": []},
            "ingressFrom": scrapers,
        },
    }
    policy = render(values).one("NetworkPolicy")
    assert _egress_to(policy, 443) == okta
    assert _egress_to(policy, 6432) == database
    assert not {("TCP", 587), ("TCP", 5432)} & _egress_ports(policy)
    assert policy["spec"]["ingress"][0]["from"] == scrapers


def test_no_database_egress_on_sqlite() -> None:
    policy = render({"networkPolicy": {"enabled": True}}).one("NetworkPolicy")
    assert ("TCP", 5432) not in _egress_ports(policy)


@pytest.mark.parametrize("port", ["okta", "kubeApi"])
def test_https_egress_is_there_for_okta_and_the_api_server(port: str) -> None:
    narrow = {"to": [{"ipBlock": {"cidr": "192.0.2.0/24"}}]}
    others = {"kubeApi": {"ports": [6443]}} if port == "okta" else {}
    values = {"networkPolicy": {"enabled": True, **others, port: narrow}}
    policy = render(values).one("NetworkPolicy")
    narrowed = [r for r in policy["spec"]["egress"] if r.get("to")]
    assert len(narrowed) == 1 and 443 in {p["port"] for p in narrowed[0]["ports"]}
