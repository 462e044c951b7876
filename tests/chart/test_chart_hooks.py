"""The Okta Event Hooks receiver in the chart: its port, Service, Ingress and NetworkPolicy rule."""

from __future__ import annotations

from typing import Any

import pytest

from tests.chart.rendering import helm_error, render

HOOKS_ON: dict[str, Any] = {"eventHooks": {"enabled": True}}
PUBLIC: dict[str, Any] = {
    "eventHooks": {
        "enabled": True,
        "ingress": {
            "enabled": True,
            "className": "nginx",
            "host": "hooks.example.com",
            "annotations": {"cert-manager.io/cluster-issuer": "letsencrypt"},
            "tls": {"secretName": "hooks-tls"},
        },
    }
}


def _hooks_service(values: dict[str, Any]) -> dict[str, Any]:
    (service,) = [
        s
        for s in render(values).of_kind("Service")
        if s["metadata"]["labels"]["app.kubernetes.io/component"] == "event-hooks"
    ]
    return service


def test_the_operator_always_listens_and_nothing_reaches_it_by_default() -> None:
    rendered = render()
    assert rendered.env()["HRIS_HOOKS_ADDRESS"]["value"] == "0.0.0.0:8081"
    assert "hooks" not in {p["name"] for p in rendered.container()["ports"]}
    assert rendered.of_kind("Ingress") == []
    components = {
        s["metadata"]["labels"]["app.kubernetes.io/component"] for s in rendered.of_kind("Service")
    }
    assert "event-hooks" not in components


def test_enabled_hooks_get_a_container_port_and_a_service() -> None:
    rendered = render({"eventHooks": {"enabled": True, "port": 8443}})
    assert rendered.env()["HRIS_HOOKS_ADDRESS"]["value"] == "0.0.0.0:8443"
    ports = {p["name"]: p["containerPort"] for p in rendered.container()["ports"]}
    assert ports["hooks"] == 8443
    service = _hooks_service({"eventHooks": {"enabled": True, "port": 8443}})
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["ports"] == [
        {"name": "hooks", "port": 8443, "targetPort": "hooks", "protocol": "TCP"}
    ]
    assert (
        service["spec"]["selector"] == rendered.one("Deployment")["spec"]["selector"]["matchLabels"]
    )
    assert rendered.of_kind("Ingress") == []
    assert "/hooks/okta/<namespace>/<name>" in rendered.notes


def test_the_ingress_routes_only_the_hooks_prefix_over_tls() -> None:
    rendered = render(PUBLIC)
    ingress = rendered.one("Ingress")
    service = _hooks_service(PUBLIC)
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["metadata"]["annotations"] == {"cert-manager.io/cluster-issuer": "letsencrypt"}
    assert ingress["spec"]["tls"] == [{"hosts": ["hooks.example.com"], "secretName": "hooks-tls"}]
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == "hooks.example.com"
    assert rule["http"]["paths"] == [
        {
            "path": "/hooks/okta",
            "pathType": "Prefix",
            "backend": {
                "service": {"name": service["metadata"]["name"], "port": {"name": "hooks"}}
            },
        }
    ]
    assert "okta-hris hooks register" in rendered.notes
    assert "https://hooks.example.com/hooks/okta/okta-hris/acme" in rendered.notes


def test_an_ingress_without_a_tls_secret_leaves_tls_to_what_is_in_front() -> None:
    values = {
        "eventHooks": {"enabled": True, "ingress": {"enabled": True, "host": "h.example.com"}}
    }
    ingress = render(values).one("Ingress")
    assert "tls" not in ingress["spec"]
    assert "ingressClassName" not in ingress["spec"]


def test_the_network_policy_admits_the_hooks_port_only_when_enabled() -> None:
    ingress_controller = [{"namespaceSelector": {"matchLabels": {"name": "ingress-nginx"}}}]
    off = render({"networkPolicy": {"enabled": True}}).one("NetworkPolicy")
    assert all(p["port"] != "hooks" for rule in off["spec"]["ingress"] for p in rule["ports"])
    on = render(
        {**HOOKS_ON, "networkPolicy": {"enabled": True, "hooksFrom": ingress_controller}}
    ).one("NetworkPolicy")
    (hooks_rule,) = [
        r for r in on["spec"]["ingress"] if {p["port"] for p in r["ports"]} == {"hooks"}
    ]
    assert hooks_rule["from"] == ingress_controller


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"eventHooks": {"port": 9090}}, "eventHooks.port must differ"),
        ({"eventHooks": {"port": 8080}}, "eventHooks.port must differ"),
        (
            {"eventHooks": {"ingress": {"enabled": True, "host": "h.example.com"}}},
            "needs eventHooks.enabled",
        ),
        (
            {"eventHooks": {"enabled": True, "ingress": {"enabled": True}}},
            "eventHooks.ingress.host is required",
        ),
        ({"eventHooks": {"port": 0}}, "/eventHooks/port"),
        ({"eventHooks": {"ingress": {"host": "Not A Host"}}}, "/eventHooks/ingress/host"),
        ({"eventHooks": {"ingress": {"tls": {"secretName": "x", "hosts": []}}}}, "hosts"),
        ({"eventHooks": {"extra": True}}, "extra"),
    ],
)
def test_wrong_hook_values_are_refused_with_one_line(values: dict[str, Any], message: str) -> None:
    assert message in helm_error(values)
