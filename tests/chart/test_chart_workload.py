"""The operator's Deployment: SQLite on a volume by default, PostgreSQL and peering for HA.

Defaults: one replica, Recreate, `--standalone`, the SQLite directory on a PersistentVolumeClaim
kept by `helm uninstall`. With a PostgreSQL URL: any number of replicas, `--peering`, a
KopfPeering object, and with more than one, a PodDisruptionBudget and anti-affinity.
"""

from __future__ import annotations

from typing import Any

import pytest

from okta_hris import __version__
from tests.chart.rendering import (
    COMBINATIONS,
    NAMESPACE,
    POSTGRES_SECRET,
    chart_metadata,
    render,
)


def test_chart_version_and_app_version() -> None:
    metadata = chart_metadata()
    assert metadata["version"] == "0.2.0"
    assert metadata["appVersion"] == __version__
    assert render().container()["image"] == f"okta-hris-operator:{__version__}"


def test_defaults_run_one_standalone_replica_on_sqlite() -> None:
    rendered = render()
    deployment = rendered.one("Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    args = rendered.container()["args"]
    assert args[:2] == ["run", f"--namespace={NAMESPACE}"]
    assert "--standalone" in args and not any(a.startswith("--peering") for a in args)
    env = rendered.env()
    assert env["HRIS_REQUIRE_PERSISTENT_DB"]["value"] == "true"
    assert env["HRIS_DATA_DIR"]["value"] == "/data"
    assert "HRIS_DATABASE_URL" not in env
    mounts = {m["name"]: m["mountPath"] for m in rendered.container()["volumeMounts"]}
    assert mounts == {"tmp": "/tmp", "data": "/data"}
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    claim = rendered.one("PersistentVolumeClaim")
    assert volumes["data"]["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert claim["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"}
    assert claim["spec"]["resources"]["requests"]["storage"] == "1Gi"
    for absent in ("PodDisruptionBudget", "KopfPeering", "ClusterKopfPeering"):
        assert rendered.of_kind(absent) == [], absent
    assert "affinity" not in deployment["spec"]["template"]["spec"]


def test_postgresql_replicas_peer() -> None:
    rendered = render(COMBINATIONS["postgres-ha"])
    deployment = rendered.one("Deployment")
    assert deployment["spec"]["replicas"] == 3
    assert "strategy" not in deployment["spec"]  # RollingUpdate: peering hands over
    args = rendered.container()["args"]
    assert "--peering=okta-hris" in args and "--standalone" not in args
    env = rendered.env()
    assert env["HRIS_DATABASE_URL"]["valueFrom"] == {
        "secretKeyRef": {"name": "hris-database", "key": "url"}
    }
    assert "HRIS_DATA_DIR" not in env
    assert env["POD_ID"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert rendered.of_kind("PersistentVolumeClaim") == []
    assert [m["name"] for m in rendered.container()["volumeMounts"]] == ["tmp"]
    peering = rendered.one("KopfPeering")
    assert (peering["metadata"]["name"], peering["metadata"]["namespace"]) == (
        "okta-hris",
        NAMESPACE,
    )
    pdb = rendered.one("PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["selector"] == deployment["spec"]["selector"]
    affinity = deployment["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
    (preferred,) = affinity["preferredDuringSchedulingIgnoredDuringExecution"]
    assert preferred["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"


def test_one_postgresql_replica_has_no_pdb_to_block_drains() -> None:
    rendered = render(POSTGRES_SECRET)
    assert rendered.one("Deployment")["spec"]["replicas"] == 1
    assert rendered.of_kind("PodDisruptionBudget") == []
    assert "affinity" not in rendered.one("Deployment")["spec"]["template"]["spec"]
    assert rendered.one("KopfPeering")  # still peered: a rolling update overlaps two pods


def test_cluster_wide_peers_through_a_cluster_peering_and_hard_anti_affinity() -> None:
    rendered = render(COMBINATIONS["cluster-wide"])
    assert rendered.one("ClusterKopfPeering")["metadata"]["name"] == "okta-hris"
    assert rendered.of_kind("KopfPeering") == []
    assert rendered.env()["HRIS_DATABASE_URL"]["value"].startswith("postgresql+psycopg://")
    affinity = rendered.one("Deployment")["spec"]["template"]["spec"]["affinity"]
    assert "requiredDuringSchedulingIgnoredDuringExecution" in affinity["podAntiAffinity"]


def test_a_peering_object_in_each_watched_namespace() -> None:
    rendered = render({**COMBINATIONS["watch-namespaces"], **POSTGRES_SECRET})
    assert {p["metadata"]["namespace"] for p in rendered.of_kind("KopfPeering")} == {
        "people-ops",
        "finance",
    }
    args = rendered.container()["args"]
    assert {"--namespace=people-ops", "--namespace=finance"} <= set(args)


@pytest.mark.parametrize("combination", COMBINATIONS)
def test_the_pod_knows_its_name_and_namespace(combination: str) -> None:
    env = render(COMBINATIONS[combination]).env()
    assert env["POD_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert env["POD_NAMESPACE"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}


def test_startup_readiness_and_liveness_probe_healthz() -> None:
    container = render().container()
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"liveness": 8080, "metrics": 9090}
    assert "--liveness-port=8080" in container["args"]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "liveness"}, probe
    # Start-up (migrations included) may take minutes; a live operator is not killed for one slow answer.
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 300
    assert container["livenessProbe"]["failureThreshold"] >= 3


def test_port_zero_turns_the_endpoint_and_its_probes_off() -> None:
    container = render({"livenessPort": 0, "metrics": {"port": 0}}).container()
    assert "ports" not in container
    assert not {"startupProbe", "readinessProbe", "livenessProbe"} & set(container)
    assert {"--liveness-port=0", "--metrics-port=0"} <= set(container["args"])
    assert render({"metrics": {"port": 0}}).of_kind("Service") == []


def test_default_resources_and_concurrency() -> None:
    rendered = render()
    assert rendered.container()["resources"] == {
        "requests": {"cpu": "100m", "memory": "640Mi"},
        "limits": {"memory": "768Mi"},
    }
    assert rendered.env()["HRIS_MAX_CONCURRENT_SYNCS"]["value"] == "2"


@pytest.mark.parametrize(
    ("sqlite", "expected"),
    [
        ({"keep": False}, None),
        ({"storageClass": "fast-ssd", "size": "5Gi"}, "fast-ssd"),
        ({"storageClass": "-"}, ""),
    ],
)
def test_the_sqlite_claim(sqlite: dict[str, Any], expected: str | None) -> None:
    claim = render({"database": {"sqlite": sqlite}}).one("PersistentVolumeClaim")
    assert claim["spec"].get("storageClassName") == expected
    assert ("annotations" in claim["metadata"]) is sqlite.get("keep", True)


def test_an_existing_claim_is_used_not_created() -> None:
    rendered = render({"database": {"sqlite": {"existingClaim": "directory-data"}}})
    assert rendered.of_kind("PersistentVolumeClaim") == []
    volumes = rendered.one("Deployment")["spec"]["template"]["spec"]["volumes"]
    assert {"name": "data", "persistentVolumeClaim": {"claimName": "directory-data"}} in volumes


@pytest.mark.parametrize(
    ("release", "values", "fullname"),
    [
        ("hris", {}, "hris-okta-hris-operator"),
        ("okta-hris", {}, "okta-hris"),  # not okta-hris-okta-hris-operator
        ("okta-hris-operator", {}, "okta-hris-operator"),
        ("prod-okta-hris-operator", {}, "prod-okta-hris-operator"),
        ("hris", {"nameOverride": "directory"}, "hris-directory"),
        ("hris", {"fullnameOverride": "people-sync"}, "people-sync"),
        ("a" * 53, {}, ("a" * 53 + "-okta-hris-operator")[:63]),
    ],
)
def test_resource_names(release: str, values: dict[str, Any], fullname: str) -> None:
    rendered = render(values, name=release)
    named = [
        o for o in rendered.objects if o["kind"] not in ("CustomResourceDefinition", "KopfPeering")
    ]
    assert {o["metadata"]["name"].removesuffix("-data") for o in named} - {
        rendered.one("Service")["metadata"]["name"]
    } == {fullname}
    service = rendered.one("Service")["metadata"]["name"]
    assert service.endswith("-metrics") and len(service) <= 63  # a DNS label
    assert fullname.startswith(service.removesuffix("-metrics"))


def test_name_override_changes_the_labels_too() -> None:
    rendered = render(COMBINATIONS["name-overrides"])
    deployment = rendered.one("Deployment")
    assert deployment["metadata"]["name"] == "hris-directory"
    assert deployment["spec"]["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": "directory",
        "app.kubernetes.io/instance": "hris",
    }


def test_notes_say_what_to_do_next() -> None:
    notes = render().notes
    assert "PersistentVolumeClaim hris-okta-hris-operator-data" in notes
    assert "kubectl -n okta-hris create secret generic okta-api-token" in notes
    assert "kind: OktaIntegration" in notes
    assert "wait --for=condition=Ready oktaintegration/acme" in notes
    assert "http://hris-okta-hris-operator-metrics.okta-hris.svc:9090/metrics" in notes
    assert "`helm uninstall` keeps it" in notes
    ha = render(COMBINATIONS["observability"]).notes
    assert 'peer through KopfPeering "okta-hris"' in ha
    assert "ServiceMonitor hris-okta-hris-operator" in ha and "PrometheusRule" in ha
    assert "kubectl apply -f crds/" in render(COMBINATIONS["no-crds"]).notes
