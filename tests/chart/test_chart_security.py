"""Least privilege: RBAC that reads Secrets by name only, and a pod that meets the "restricted"
Pod Security Standard, in every combination of values."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.chart.rendering import COMBINATIONS, NAMESPACE, RELEASE, Rendered, render

ROLE_KINDS = ("Role", "ClusterRole")


def _rules(rendered: Rendered) -> list[dict[str, Any]]:
    return [
        rule for kind in ROLE_KINDS for role in rendered.of_kind(kind) for rule in role["rules"]
    ]


def _verbs(rendered: Rendered, group: str, resource: str) -> set[str]:
    return {
        verb
        for rule in _rules(rendered)
        if group in rule["apiGroups"] and resource in rule["resources"]
        for verb in rule["verbs"]
    }


@pytest.mark.parametrize("combination", COMBINATIONS)
def test_rbac_is_least_privilege(combination: str) -> None:
    rendered = render(COMBINATIONS[combination])
    rules = _rules(rendered)
    assert rules
    for rule in rules:
        for field in ("apiGroups", "resources", "verbs", "resourceNames"):
            assert "*" not in rule.get(field, []), rule
        assert set(rule["verbs"]) <= {"get", "list", "watch", "patch", "create"}, rule
    assert _verbs(rendered, "", "secrets") == {"get"}  # by name: no list, no watch
    assert _verbs(rendered, "", "events") == {"create"}
    assert _verbs(rendered, "hris.dev", "oktaintegrations") == {"get", "list", "watch", "patch"}
    assert _verbs(rendered, "hris.dev", "oktaintegrations/status") == {"get", "patch"}
    granted = {
        (group, r) for rule in rules for group in rule["apiGroups"] for r in rule["resources"]
    }
    assert granted <= {
        ("hris.dev", "oktaintegrations"),
        ("hris.dev", "oktaintegrations/status"),
        ("", "secrets"),
        ("", "events"),
        ("kopf.dev", "kopfpeerings"),
        ("kopf.dev", "clusterkopfpeerings"),
    }


def test_secret_names_restrict_the_get() -> None:
    rendered = render(COMBINATIONS["watch-namespaces"])
    secret_rules = [r for r in _rules(rendered) if "secrets" in r["resources"]]
    assert len(secret_rules) == 2  # one Role per watched namespace
    for rule in secret_rules:
        assert rule["resourceNames"] == ["okta-api-token", "smtp-relay"]
    assert all("resourceNames" not in r for r in _rules(render()) if "secrets" in r["resources"])


def test_a_role_in_each_watched_namespace_and_nothing_cluster_wide() -> None:
    rendered = render(COMBINATIONS["watch-namespaces"])
    assert rendered.of_kind("ClusterRole") == [] and rendered.of_kind("ClusterRoleBinding") == []
    roles = {r["metadata"]["namespace"] for r in rendered.of_kind("Role")}
    bindings = rendered.of_kind("RoleBinding")
    assert roles == {b["metadata"]["namespace"] for b in bindings} == {"people-ops", "finance"}
    for binding in bindings:
        assert binding["subjects"] == [
            {
                "kind": "ServiceAccount",
                "name": f"{RELEASE}-okta-hris-operator",
                "namespace": NAMESPACE,
            }
        ]
    assert {r["metadata"]["namespace"] for r in render().of_kind("Role")} == {NAMESPACE}


def test_cluster_wide_is_one_cluster_role() -> None:
    rendered = render(COMBINATIONS["cluster-wide"])
    assert rendered.of_kind("Role") == []
    role = rendered.one("ClusterRole")
    binding = rendered.one("ClusterRoleBinding")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert "--all-namespaces" in rendered.container()["args"]


def test_peering_rules_only_where_the_replicas_peer() -> None:
    assert _verbs(render(), "kopf.dev", "kopfpeerings") == set()  # SQLite: --standalone
    rendered = render(COMBINATIONS["postgres-ha"])
    peering = [r for r in _rules(rendered) if "kopfpeerings" in r["resources"]]
    by_name = [r for r in peering if r.get("resourceNames") == ["okta-hris"]]
    assert {v for r in by_name for v in r["verbs"]} == {"get", "patch"}
    assert {v for r in peering if "resourceNames" not in r for v in r["verbs"]} == {"list", "watch"}
    clusterwide = render(COMBINATIONS["cluster-wide"])
    assert _verbs(clusterwide, "kopf.dev", "clusterkopfpeerings") == {
        "get",
        "patch",
        "list",
        "watch",
    }


def test_the_operator_keeps_its_token() -> None:
    """It talks to the Kubernetes API: the service account token is mounted, on purpose."""
    rendered = render()
    assert rendered.one("ServiceAccount")["automountServiceAccountToken"] is True
    pod = rendered.one("Deployment")["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is True
    assert pod["serviceAccountName"] == rendered.one("ServiceAccount")["metadata"]["name"]


# The Pod Security Standards, https://kubernetes.io/docs/concepts/security/pod-security-standards/
RESTRICTED_VOLUME_TYPES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}
SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
SECCOMP_TYPES = {"RuntimeDefault", "Localhost"}


def restricted_violations(pod: dict[str, Any]) -> list[str]:
    """What in a pod spec the "restricted" Pod Security Standard (baseline included) forbids."""
    found = [f"spec.{host}" for host in ("hostNetwork", "hostPID", "hostIPC") if pod.get(host)]
    found += [
        f"volume {v['name']}"
        for v in pod.get("volumes", [])
        if not set(v) - {"name"} <= RESTRICTED_VOLUME_TYPES
    ]
    pod_context = pod.get("securityContext") or {}
    found += [
        f"sysctl {s['name']}"
        for s in pod_context.get("sysctls", [])
        if s["name"] not in SAFE_SYSCTLS
    ]
    containers = [
        c
        for key in ("initContainers", "containers", "ephemeralContainers")
        for c in pod.get(key, [])
    ]
    for container in containers:
        context = container.get("securityContext") or {}

        def effective(key: str, context: dict[str, Any] = context) -> Any:
            return context.get(key, pod_context.get(key))

        name = container["name"]
        capabilities = context.get("capabilities") or {}
        checks = {
            "privileged": not context.get("privileged"),
            "allowPrivilegeEscalation=false": context.get("allowPrivilegeEscalation") is False,
            "runAsNonRoot": effective("runAsNonRoot") is True,
            "runAsUser not 0": effective("runAsUser") != 0,
            "seccompProfile": (effective("seccompProfile") or {}).get("type") in SECCOMP_TYPES,
            "capabilities drop ALL": "ALL" in capabilities.get("drop", []),
            "capabilities add": set(capabilities.get("add", [])) <= {"NET_BIND_SERVICE"},
            "no hostPort": all(not p.get("hostPort") for p in container.get("ports", [])),
            "procMount": context.get("procMount", "Default") == "Default",
            "seLinuxOptions": (effective("seLinuxOptions") or {}).get("type", "") in SELINUX_TYPES,
            "appArmorProfile": (effective("appArmorProfile") or {}).get("type") != "Unconfined",
        }
        found += [f"container {name}: {check}" for check, ok in checks.items() if not ok]
    return found


@pytest.mark.parametrize("combination", COMBINATIONS)
def test_the_pod_meets_the_restricted_pod_security_standard(combination: str) -> None:
    deployment = render(COMBINATIONS[combination]).one("Deployment")
    assert restricted_violations(deployment["spec"]["template"]["spec"]) == []
    container = render(COMBINATIONS[combination]).container()
    assert container["securityContext"]["readOnlyRootFilesystem"] is True


@pytest.mark.parametrize(
    ("values", "violation"),
    [
        # Helm merges values into the defaults; null removes a default key.
        ({"securityContext": {"allowPrivilegeEscalation": None}}, "allowPrivilegeEscalation"),
        ({"securityContext": {"capabilities": None}}, "capabilities drop ALL"),
        ({"podSecurityContext": {"runAsNonRoot": None}}, "runAsNonRoot"),
        ({"podSecurityContext": {"runAsUser": 0}}, "runAsUser not 0"),
        ({"podSecurityContext": {"seccompProfile": None}}, "seccompProfile"),
    ],
)
def test_the_check_catches_a_weaker_pod(values: dict[str, Any], violation: str) -> None:
    pod = copy.deepcopy(render(values).one("Deployment")["spec"]["template"]["spec"])
    assert any(violation in v for v in restricted_violations(pod))
    pod["hostNetwork"] = True
    pod["volumes"].append({"name": "host", "hostPath": {"path": "/"}})
    assert {"spec.hostNetwork", "volume host"} <= set(restricted_violations(pod))
