"""The operator end to end: real Kopf, an API server over HTTP, the Okta sandbox, a database.

Each scenario runs against kmock (always) and against a real cluster (``-m cluster``). The
timing knobs (``FAST_TIMING`` in conftest) make retries take fractions of a second; nothing
here asserts how long anything took.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import kmock
import pytest
import sqlalchemy as sa
import yaml
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from click.testing import CliRunner

from okta_hris.cli.operator import resync_command
from okta_hris.controller.conditions import format_time
from okta_hris.directory import schema
from okta_hris.directory.store import Directory
from okta_hris.resource.spec import PLURAL
from okta_hris.sandbox import Fault, FaultKind, Sandbox

from .conftest import Cluster, OperatorStarter
from .operator_harness import (
    TOKEN_SECRET,
    LogCapture,
    OperatorProcess,
    condition,
    create_integration,
    eventually,
    free_port,
    integration,
    integration_labels,
    is_integration_series,
    metric_value,
    probing,
    wait_for_condition,
    wait_for_generation,
    wait_for_status,
)

USERS = 60
GROUPS = 6
# Long enough for an operator that would wrongly act on a change to have acted.
QUIET_PERIOD_S = 1.0
# Secrets are not watched: a stalled integration reads its Secret again this often (30s by
# default; short here so that the scenarios see a fixed Secret picked up in a fraction of a second).
SECRET_RETRY = {"HRIS_SECRET_RETRY": "0.2"}


@pytest.fixture
def org(sandbox_factory: Callable[..., Sandbox]) -> Sandbox:
    """A small generated Okta org (the operator reaches it through HRIS_OKTA_URL)."""
    return sandbox_factory(users=USERS, groups=GROUPS, seed=11, token="okta-ssws-5ecret-t0ken")


@pytest.fixture
def directory(sqlite_url: str) -> Iterator[Directory]:
    with Directory.open(sqlite_url) as opened:
        yield opened


def rows(directory: Directory, key: str) -> list[dict[str, Any]]:
    with directory.engine.connect() as conn:
        query = sa.select(schema.employees).where(schema.employees.c.integration == key)
        return [dict(row) for row in conn.execute(query).mappings()]


def run_count(directory: Directory, key: str) -> int:
    with directory.engine.connect() as conn:
        query = (
            sa.select(sa.func.count())
            .select_from(schema.sync_runs)
            .where(schema.sync_runs.c.integration == key)
        )
        return int(conn.scalar(query) or 0)


def okta_requests(org: Sandbox, status: int | None = None) -> int:
    return sum(1 for r in list(org.requests) if status is None or r.status == status)


def secret_lists_and_watches(cluster: Cluster) -> list[str]:
    """Every list or watch of Secrets the API server was asked for: the operator's RBAC is
    ``get`` on Secrets only, and it needs no more (the test's own client only gets them too)."""
    if cluster.apiserver is None:
        return []  # a real cluster keeps no request log; its RBAC would refuse them
    return [
        f"{request.method.value} {request.url}"
        for request in list(cluster.apiserver)
        if request.resource is not None
        and request.resource.plural == "secrets"
        and request.action in (kmock.action.LIST, kmock.action.WATCH)
    ]


def ready_for_kubectl_wait(found: dict[str, Any]) -> bool:
    """What ``kubectl wait --for=condition=Ready`` waits for: Ready=True, observed for the
    object's current generation."""
    ready = condition(found.get("status") or {}, "Ready")
    observed = ready.get("observedGeneration")
    current = found["metadata"]["generation"]
    return ready.get("status") == "True" and (observed is None or observed == current)


async def ready(cluster: Cluster, ns: str, name: str = "acme") -> dict[str, Any]:
    return await wait_for_condition(cluster.kube, ns, name, "Ready", "True", "SyncSucceeded")


async def setup_integration(
    cluster: Cluster, org: Sandbox, *, secret: bool = True, name: str = "acme", **spec: Any
) -> str:
    ns = await cluster.namespace()
    await create_integration(cluster.kube, ns, org.token if secret else None, name, **spec)
    return ns


async def annotate(cluster: Cluster, ns: str, name: str, **annotations: str | None) -> None:
    await cluster.kube.annotate_integration(
        ns, name, {k.replace("_", "-"): v for k, v in annotations.items()}
    )


def most_common_country(directory: Directory, key: str) -> tuple[str, int]:
    """The country of most active employees, and how many active employees are elsewhere."""
    active = [r for r in rows(directory, key) if r["active"]]
    counts: dict[str, int] = {}
    for row in active:
        if row["country_code"]:
            counts[row["country_code"]] = counts.get(row["country_code"], 0) + 1
    country = max(counts, key=lambda k: counts[k])
    return country, len(active) - counts[country]


async def test_create_syncs_and_reports_ready(
    cluster: Cluster, start_operator: OperatorStarter, org: Sandbox, database_url: str
) -> None:
    """Also on PostgreSQL: ``database_url`` runs this scenario once per database."""
    ns = await setup_integration(cluster, org)
    operator = await start_operator(
        [ns], database_url=database_url, okta_url=org.url, liveness_port=free_port()
    )

    status = await ready(cluster, ns)

    with Directory.open(database_url) as directory:
        summary = directory.summary(f"{ns}/acme")
    assert summary.total > 0
    assert status["observedGeneration"] == 1
    assert status["lastSyncMode"] == "Full"
    assert status["employees"] == {
        "total": summary.total,
        "active": summary.active,
        "inactive": summary.inactive,
    }
    assert status["teams"] == summary.teams
    assert (
        condition(status, "Ready")["message"]
        == f"{summary.active} employees, {summary.teams} teams"
    )
    assert condition(status, "Reconciling")["status"] == "False"
    assert condition(status, "Stalled") | {"lastTransitionTime": None} == {
        "type": "Stalled",
        "status": "False",
        "reason": "Healthy",
        "message": "",
        "observedGeneration": 1,
        "lastTransitionTime": None,
    }
    assert status["lastSync"]["created"] == summary.total
    assert status["lastSync"]["apiRequests"] > 0
    assert status["lastSyncTime"] == status["lastSuccessfulSyncTime"]
    assert status["nextSyncTime"] > status["lastSyncTime"]
    events = await eventually(lambda: cluster.kube.events(ns, "acme"), what="an event for acme")
    assert any(e["reason"] == "SyncSucceeded" for e in events)
    async with httpx.AsyncClient() as http:
        metrics = (await http.get(operator.metrics_url)).text
    labels = integration_labels(f"{ns}/acme")
    active = {**labels, "state": "active"}
    assert metric_value(metrics, "okta_hris_employees", active) == summary.active
    assert metric_value(metrics, "okta_hris_syncs_total", {**labels, "mode": "Full"}) is not None
    assert operator.liveness_port is not None
    async with httpx.AsyncClient() as http:
        probe = await http.get(f"http://127.0.0.1:{operator.liveness_port}/healthz")
    assert probe.status_code == 200
    if cluster.apiserver is not None:  # kmock keeps every version: Syncing was shown meanwhile
        history = cluster.apiserver.objects[("hris.dev/v1alpha1/oktaintegrations", ns, "acme")]
        shown = [
            condition(dict(v.get("status") or {}), "Reconciling") for v in history.history if v
        ]
        assert {"status": "True", "reason": "Syncing"}.items() <= next(
            c for c in shown if c.get("status") == "True"
        ).items()


async def test_filter_change_runs_a_full_sync_that_deactivates(
    cluster: Cluster,
    start_operator: OperatorStarter,
    org: Sandbox,
    directory: Directory,
    sqlite_url: str,
) -> None:
    ns = await setup_integration(cluster, org)
    await start_operator([ns], database_url=sqlite_url, okta_url=org.url)
    first = await ready(cluster, ns)
    key = f"{ns}/acme"
    country, elsewhere = most_common_country(directory, key)
    assert elsewhere > 0

    await cluster.kube.patch_spec(
        ns,
        "acme",
        {"sync": {"scope": "Filtered"}, "filters": {"countries": {"include": [country]}}},
    )
    status = await wait_for_generation(cluster.kube, ns, "acme", 2, ready=True)

    assert status["lastSyncMode"] == "Full"
    assert status["lastSync"]["deactivated"] == elsewhere
    assert status["employees"]["total"] == first["employees"]["total"]  # rows are never deleted
    after = rows(directory, key)
    assert all(r["country_code"] == country for r in after if r["active"])
    assert sum(1 for r in after if not r["active"] and r["deactivated_at"]) >= elsewhere
    assert condition(status, "Ready")["observedGeneration"] == 2


async def test_resync_annotation_is_set_and_echoed_by_the_cli(
    cluster: Cluster,
    start_operator: OperatorStarter,
    org: Sandbox,
    directory: Directory,
    sqlite_url: str,
) -> None:
    ns = await setup_integration(cluster, org)
    await start_operator([ns], database_url=sqlite_url, okta_url=org.url)
    await ready(cluster, ns)
    runs = run_count(directory, f"{ns}/acme")

    # The value is echoed exactly as given, spaces included.
    value = " 2026-11-28T12:00:00Z"
    args = ["acme", "-n", ns, "--wait", "--timeout", "30", "--value", value]
    result = await asyncio.to_thread(
        CliRunner().invoke, resync_command, [*args, "--kubeconfig", str(cluster.kubeconfig)]
    )

    assert result.exit_code == 0, result.output
    assert f"{ns}/acme: Ready=True SyncSucceeded" in result.output
    assert "Full sync" in result.output
    found = await cluster.kube.get_integration(ns, "acme")
    assert found["metadata"]["annotations"]["hris.dev/resync-requested-at"] == value
    assert found["status"]["lastHandledResyncAt"] == value
    assert found["status"]["lastSyncMode"] == "Full"
    assert run_count(directory, f"{ns}/acme") == runs + 1

    # Without --wait the command returns at once; without -n it uses the namespace of the
    # kubeconfig context, as kubectl does; two requests in a row are two distinct values.
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    config["contexts"][0]["context"]["namespace"] = ns
    in_context = cluster.kubeconfig.with_name("in-context")
    in_context.write_text(yaml.safe_dump(config))
    tokens = []
    for _ in range(2):
        result = await asyncio.to_thread(
            CliRunner().invoke, resync_command, ["acme", "--kubeconfig", str(in_context)]
        )
        assert result.exit_code == 0, result.output
        found = await cluster.kube.get_integration(ns, "acme")
        tokens.append(found["metadata"]["annotations"]["hris.dev/resync-requested-at"])
    assert tokens[0] != tokens[1]
    assert all(datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%fZ") for t in tokens)
    await wait_for_status(
        cluster.kube, ns, "acme", lambda st: st.get("lastHandledResyncAt") == tokens[1], what="echo"
    )


async def test_suspend_stops_syncs_until_resumed(
    cluster: Cluster,
    start_operator: OperatorStarter,
    org: Sandbox,
    directory: Directory,
    sqlite_url: str,
) -> None:
    ns = await setup_integration(cluster, org)
    await start_operator([ns], database_url=sqlite_url, okta_url=org.url)
    before = await ready(cluster, ns)
    assert ready_for_kubectl_wait(await cluster.kube.get_integration(ns, "acme"))
    country, elsewhere = most_common_country(directory, f"{ns}/acme")

    # One patch suspends and changes a filter: the new filter is not applied...
    filtered = {"scope": "Filtered", "suspend": True}
    await cluster.kube.patch_spec(
        ns, "acme", {"sync": filtered, "filters": {"countries": {"include": [country]}}}
    )
    status = await wait_for_condition(cluster.kube, ns, "acme", "Reconciling", "False", "Suspended")
    assert condition(status, "Ready")["status"] == "True"  # the directory is still as synced
    assert (
        condition(status, "Ready")["lastTransitionTime"]
        == condition(before, "Ready")["lastTransitionTime"]
    )
    # ...so it is not observed: kubectl wait --for=condition=Ready must not succeed on it.
    found = await cluster.kube.get_integration(ns, "acme")
    assert found["metadata"]["generation"] == 2
    assert status["observedGeneration"] == 1
    assert {condition(status, t)["observedGeneration"] for t in ("Ready", "Stalled")} == {1}
    assert not ready_for_kubectl_wait(found)
    assert "nextSyncTime" not in status
    assert directory.summary(f"{ns}/acme").active == before["employees"]["active"]
    requests = okta_requests(org)

    await annotate(cluster, ns, "acme", **{"hris.dev/resync-requested-at": "1"})
    await asyncio.sleep(QUIET_PERIOD_S)
    status = (await cluster.kube.get_integration(ns, "acme"))["status"]
    assert "lastHandledResyncAt" not in status
    assert okta_requests(org) == requests
    reasons = [e["reason"] for e in await cluster.kube.events(ns, "acme")]
    assert "Suspended" in reasons
    refused = await asyncio.to_thread(
        CliRunner().invoke,
        resync_command,
        ["acme", "-n", ns, "--wait", "--kubeconfig", str(cluster.kubeconfig)],
    )
    assert refused.exit_code == 1 and "suspended" in refused.output

    # Resumed: the generation that was never applied is synced, and observed.
    await cluster.kube.patch_spec(ns, "acme", {"sync": {"suspend": False}})
    status = await wait_for_status(
        cluster.kube, ns, "acme", lambda st: st.get("lastHandledResyncAt") == "1", what="resumed"
    )
    assert condition(status, "Reconciling")["reason"] == "Idle"
    assert okta_requests(org) > requests
    assert status["observedGeneration"] == 3
    assert status["lastSync"]["deactivated"] == elsewhere
    assert ready_for_kubectl_wait(await cluster.kube.get_integration(ns, "acme"))


async def test_missing_secret_stalls_until_it_is_created(
    cluster: Cluster, start_operator: OperatorStarter, org: Sandbox, sqlite_url: str
) -> None:
    """No Secret watch: the stalled integration reads its Secret again on a short schedule."""
    ns = await setup_integration(cluster, org, secret=False)
    await start_operator([ns], database_url=sqlite_url, okta_url=org.url, environ=SECRET_RETRY)

    status = await wait_for_condition(cluster.kube, ns, "acme", "Stalled", "True", "SecretNotFound")
    assert condition(status, "Ready")["reason"] == "SecretNotFound"
    assert condition(status, "Reconciling")["status"] == "False"  # nothing to do but wait
    assert TOKEN_SECRET in condition(status, "Stalled")["message"]
    assert okta_requests(org) == 0
    # The attempt ended before it chose a mode, and applied nothing.
    assert "lastSyncTime" in status
    assert not {"lastSyncMode", "lastSync", "lastSuccessfulSyncTime"} & set(status)
    if cluster.apiserver is not None:  # it is read again, by name, while nothing changes

        def reads() -> int:
            assert cluster.apiserver is not None
            return sum(
                1
                for request in list(cluster.apiserver)
                if request.action == kmock.action.FETCH and request.name == TOKEN_SECRET
            )

        seen = reads()
        await eventually(probing(lambda: reads() >= seen + 2), what="the Secret read again")
    assert okta_requests(org) == 0  # re-reading a missing Secret never bothers Okta

    await cluster.kube.apply_secret(ns, TOKEN_SECRET, {"wrong-key": org.token})
    status = await wait_for_status(
        cluster.kube,
        ns,
        "acme",
        lambda st: 'key "token"' in condition(st, "Stalled").get("message", ""),
        what="a missing key reported",
    )
    assert condition(status, "Stalled")["reason"] == "SecretNotFound"

    await cluster.kube.apply_secret(ns, TOKEN_SECRET, {"token": org.token})
    status = await ready(cluster, ns)
    assert condition(status, "Stalled")["status"] == "False"
    assert secret_lists_and_watches(cluster) == []


async def test_unauthorized_stalls_without_a_retry_storm(
    cluster: Cluster, start_operator: OperatorStarter, org: Sandbox, sqlite_url: str
) -> None:
    ns = await cluster.namespace()
    await cluster.kube.apply_secret(ns, TOKEN_SECRET, {"token": "revoked-token"})
    await cluster.kube.create(integration(ns, "acme", secret=TOKEN_SECRET))
    operator = await start_operator(
        [ns], database_url=sqlite_url, okta_url=org.url, environ=SECRET_RETRY
    )
    key = f"{ns}/acme"

    status = await wait_for_condition(cluster.kube, ns, "acme", "Stalled", "True", "Unauthorized")
    assert condition(status, "Ready") | {"lastTransitionTime": None, "message": None} == {
        "type": "Ready",
        "status": "False",
        "reason": "Unauthorized",
        "observedGeneration": 1,
        "lastTransitionTime": None,
        "message": None,
    }
    failures = okta_requests(org, 401)
    assert failures >= 1
    assert await syncs_seen(operator, key) == 1

    # Changes that cannot fix a 401 do not retry it, although the Secret is read again after
    # each (and every SECRET_RETRY): an annotation, a label of the Secret, another key of it...
    await annotate(cluster, ns, "acme", **{"example.com/note": "poke"})
    await cluster.kube.label_secret(ns, TOKEN_SECRET, {"example.com/touched": "1"})
    await cluster.kube.apply_secret(ns, TOKEN_SECRET, {"token": "revoked-token", "note": "x"})
    await asyncio.sleep(QUIET_PERIOD_S)
    assert okta_requests(org, 401) == failures
    assert await syncs_seen(operator, key) == 1
    # ...a change of the Secret does, once.
    await cluster.kube.apply_secret(ns, TOKEN_SECRET, {"token": "another-revoked-token"})
    await eventually(probing(lambda: okta_requests(org, 401) > failures), what="a retry")
    await asyncio.sleep(QUIET_PERIOD_S)
    assert await syncs_seen(operator, key) == 2
    warnings = [e for e in await cluster.kube.events(ns, "acme") if e["reason"] == "Unauthorized"]
    assert len(warnings) == 1 and warnings[0]["type"] == "Warning"
    assert secret_lists_and_watches(cluster) == []


async def test_rotated_token_is_used_without_a_restart(
    cluster: Cluster, start_operator: OperatorStarter, org: Sandbox, sqlite_url: str
) -> None:
    ns = await setup_integration(cluster, org)
    await start_operator([ns], database_url=sqlite_url, okta_url=org.url, environ=SECRET_RETRY)
    await ready(cluster, ns)

    # The token in the Secret is replaced: the next sync uses the new value...
    await cluster.kube.apply_secret(ns, TOKEN_SECRET, {"token": "rotated-but-not-in-okta"})
    await annotate(cluster, ns, "acme", **{"hris.dev/resync-requested-at": "a"})
    await wait_for_condition(cluster.kube, ns, "acme", "Stalled", "True", "Unauthorized")
    # ...and the Secret's next change is picked up on its own.
    await cluster.kube.apply_secret(ns, TOKEN_SECRET, {"token": org.token})
    status = await ready(cluster, ns)
    assert status["lastHandledResyncAt"] == "a"


async def test_okta_outage_is_retried_with_backoff_and_shown_as_progressing(
    cluster: Cluster,
    start_operator: OperatorStarter,
    org: Sandbox,
    directory: Directory,
    sqlite_url: str,
) -> None:
    """kstatus / Flux: while a retry is pending the integration is still in progress
    (Reconciling=True, ProgressingWithRetry), and lastSync* describe the failed attempt."""
    ns = await setup_integration(cluster, org)
    key = f"{ns}/acme"
    environ = {"HRIS_OKTA_MAX_RETRIES": "2"}
    await start_operator([ns], database_url=sqlite_url, okta_url=org.url, environ=environ)
    synced = await ready(cluster, ns)

    # Every request fails; the Okta client retries with its own backoff (twice, not the
    # default six times: the suite stays fast), then gives up.
    org.add_fault(Fault(kind=FaultKind.UNAVAILABLE))
    await annotate(cluster, ns, "acme", **{"hris.dev/resync-requested-at": "outage"})
    status = await wait_for_status(
        cluster.kube,
        ns,
        "acme",
        lambda st: condition(st, "Reconciling").get("reason") == "ProgressingWithRetry",
        what="a retry pending",
        within=90,
    )
    reconciling = condition(status, "Reconciling")
    assert reconciling["status"] == "True"
    assert reconciling["message"].startswith("next attempt at ")
    ready_now = condition(status, "Ready")
    assert (ready_now["status"], ready_now["reason"]) == ("False", "OktaUnavailable")
    assert condition(status, "Stalled")["status"] == "False"  # it will retry on its own
    assert status["lastHandledResyncAt"] == "outage"
    # lastSyncTime, lastSyncMode and lastSyncDurationSeconds are those of one failed run, as
    # the directory recorded it; no counts (it applied nothing); the last success is kept.
    failures = [run for run in directory.runs(key, limit=100) if run.outcome == "failed"]
    assert any(
        format_time(run.finished_at) == status["lastSyncTime"]
        and run.mode == status["lastSyncMode"]
        and round((run.finished_at - run.started_at).total_seconds(), 3)
        == status["lastSyncDurationSeconds"]
        for run in failures
    ), (failures, status)
    assert "lastSync" not in status
    assert status["lastSuccessfulSyncTime"] == synced["lastSuccessfulSyncTime"]

    org.clear_faults()
    status = await ready(cluster, ns)
    assert condition(status, "Reconciling")["reason"] == "Idle"
    assert status["lastSyncTime"] == status["lastSuccessfulSyncTime"]
    assert status["lastSync"]["apiRequests"] > 0


async def test_restart_syncs_only_what_is_due(
    cluster: Cluster,
    start_operator: OperatorStarter,
    org: Sandbox,
    directory: Directory,
    sqlite_url: str,
) -> None:
    ns = await setup_integration(cluster, org, name="due")
    await cluster.kube.create(integration(ns, "not-due", secret=TOKEN_SECRET))
    first = await start_operator([ns], database_url=sqlite_url, okta_url=org.url)
    due = await ready(cluster, ns, "due")
    not_due = await ready(cluster, ns, "not-due")
    await first.stop()

    # While no operator runs, the hour of "due" passes.
    past = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    await cluster.kube.patch_integration_status(ns, "due", {"nextSyncTime": past})
    runs = run_count(directory, f"{ns}/not-due")
    due_runs = run_count(directory, f"{ns}/due")

    second = await start_operator([ns], database_url=sqlite_url, okta_url=org.url)
    status = await wait_for_status(
        cluster.kube,
        ns,
        "due",
        lambda st: (
            st.get("nextSyncTime", past) > past
            and condition(st, "Reconciling").get("status") == "False"
        ),
        what="the overdue sync",
    )
    assert status["lastSyncMode"] == "Incremental"
    assert condition(status, "Ready")["status"] == "True"
    assert run_count(directory, f"{ns}/due") == due_runs + 1
    assert status["lastSyncTime"] >= due["lastSyncTime"]

    async def scheduled() -> bool:
        async with httpx.AsyncClient() as http:
            text = (await http.get(second.metrics_url)).text
        labels = integration_labels(f"{ns}/not-due")
        return metric_value(text, "okta_hris_next_sync_timestamp_seconds", labels) is not None

    await eventually(scheduled, what="the restarted operator to schedule not-due")
    assert run_count(directory, f"{ns}/not-due") == runs
    after = (await cluster.kube.get_integration(ns, "not-due"))["status"]
    assert after["lastSyncTime"] == not_due["lastSyncTime"]
    assert after["nextSyncTime"] == not_due["nextSyncTime"]


async def test_a_restarted_operator_notices_secret_changes_made_while_it_was_down(
    cluster: Cluster, start_operator: OperatorStarter, org: Sandbox, sqlite_url: str
) -> None:
    ns = await setup_integration(cluster, org)
    first = await start_operator([ns], database_url=sqlite_url, okta_url=org.url)
    synced = await ready(cluster, ns)
    await first.stop()
    requests = okta_requests(org)

    await cluster.kube.delete_secret(ns, TOKEN_SECRET)
    second = await start_operator([ns], database_url=sqlite_url, okta_url=org.url)
    status = await wait_for_condition(cluster.kube, ns, "acme", "Stalled", "True", "SecretNotFound")
    assert okta_requests(org) == requests  # found on resume, without a sync
    assert status["observedGeneration"] == 1
    assert status["lastSyncTime"] == synced["lastSyncTime"]  # a check is not a sync
    await second.stop()

    await cluster.kube.apply_secret(ns, TOKEN_SECRET, {"token": org.token})
    await start_operator([ns], database_url=sqlite_url, okta_url=org.url)
    await ready(cluster, ns)  # stalled on its Secret: tried again on resume


async def test_namespaces_are_isolated(
    cluster: Cluster,
    start_operator: OperatorStarter,
    org: Sandbox,
    directory: Directory,
    sqlite_url: str,
) -> None:
    ns1 = await setup_integration(cluster, org)
    ns2 = await setup_integration(cluster, org, secret=False)  # its Secret is only in ns1
    ns3 = await setup_integration(cluster, org)  # not watched
    await start_operator(
        [ns1, ns2], database_url=sqlite_url, okta_url=org.url, environ=SECRET_RETRY
    )

    await ready(cluster, ns1)
    await wait_for_condition(cluster.kube, ns2, "acme", "Stalled", "True", "SecretNotFound")
    await cluster.kube.apply_secret(ns2, TOKEN_SECRET, {"token": org.token})
    await ready(cluster, ns2)

    assert directory.summary(f"{ns1}/acme").total == directory.summary(f"{ns2}/acme").total > 0
    assert rows(directory, f"{ns3}/acme") == []
    assert "status" not in await cluster.kube.get_integration(ns3, "acme")


async def test_delete_stops_syncs_and_keeps_rows(
    cluster: Cluster,
    start_operator: OperatorStarter,
    org: Sandbox,
    directory: Directory,
    sqlite_url: str,
) -> None:
    ns = await setup_integration(cluster, org)
    await start_operator([ns], database_url=sqlite_url, okta_url=org.url)
    await ready(cluster, ns)
    key = f"{ns}/acme"
    kept = len(rows(directory, key))
    found = await cluster.kube.get_integration(ns, "acme")
    assert "hris.dev/finalizer" in found["metadata"]["finalizers"]

    await cluster.kube.delete_integration(ns, "acme")
    await eventually(lambda: _gone(cluster, ns, "acme"), what="the finalizer to be removed")
    requests = okta_requests(org)

    assert len(rows(directory, key)) == kept
    with directory.engine.connect() as conn:
        removed_at = conn.scalar(
            sa.select(schema.integrations.c.removed_at).where(
                schema.integrations.c.integration == key
            )
        )
    assert removed_at is not None
    await asyncio.sleep(QUIET_PERIOD_S)
    assert okta_requests(org) == requests


async def _gone(cluster: Cluster, ns: str, name: str) -> bool:
    return not await cluster.kube.integration_exists(ns, name)


async def test_safety_hold_is_released_by_an_approval_of_its_size(
    cluster: Cluster,
    start_operator: OperatorStarter,
    org: Sandbox,
    directory: Directory,
    sqlite_url: str,
) -> None:
    ns = await setup_integration(cluster, org, safety={"maxDeactivations": "2"})
    await start_operator([ns], database_url=sqlite_url, okta_url=org.url)
    await ready(cluster, ns)
    key = f"{ns}/acme"
    country, elsewhere = most_common_country(directory, key)
    assert elsewhere > 2
    active = directory.summary(key).active

    await cluster.kube.patch_spec(
        ns,
        "acme",
        {"sync": {"scope": "Filtered"}, "filters": {"countries": {"include": [country]}}},
    )
    status = await wait_for_condition(
        cluster.kube, ns, "acme", "Stalled", "True", "DeactivationThresholdExceeded"
    )
    assert status["heldDeactivations"] == elsewhere
    assert condition(status, "Ready")["status"] == "False"
    # lastSync* are the held run's (a Full sync of the new spec), which applied nothing.
    assert status["lastSyncMode"] == "Full" and "lastSync" not in status
    assert status["lastSyncTime"] >= status["lastSuccessfulSyncTime"]
    assert (
        f'hris.dev/approve-deactivations: "{elsewhere}"' in condition(status, "Stalled")["message"]
    )
    assert directory.summary(key).active == active  # nothing applied
    events = await cluster.kube.events(ns, "acme")
    assert any(
        e["reason"] == "DeactivationThresholdExceeded" and str(elsewhere) in e["message"]
        for e in events
    )

    # An approval of another size releases nothing.
    await annotate(cluster, ns, "acme", **{"hris.dev/approve-deactivations": str(elsewhere - 1)})
    await asyncio.sleep(QUIET_PERIOD_S)
    assert directory.summary(key).active == active

    await annotate(cluster, ns, "acme", **{"hris.dev/approve-deactivations": str(elsewhere)})
    status = await ready(cluster, ns)
    assert status["lastSync"]["deactivated"] == elsewhere
    assert "heldDeactivations" not in status
    assert directory.summary(key).active == active - elsewhere


async def test_invalid_spec_is_stalled_until_fixed(
    cluster: Cluster, start_operator: OperatorStarter, org: Sandbox, sqlite_url: str
) -> None:
    """What the CRD schema cannot know: the operator's allow-list of Okta domains."""
    ns = await setup_integration(cluster, org, okta={"domain": "okta.attacker.example"})
    await start_operator([ns], database_url=sqlite_url, okta_url=org.url)

    status = await wait_for_condition(cluster.kube, ns, "acme", "Stalled", "True", "InvalidSpec")
    message = condition(status, "Stalled")["message"]
    assert "spec.okta.domain" in message and "HRIS_ALLOWED_DOMAINS" in message
    assert condition(status, "Ready")["reason"] == "InvalidSpec"
    assert okta_requests(org) == 0

    # A resync request is answered at once (echoed), and the CLI names why nothing synced.
    args = ["acme", "-n", ns, "--wait", "--timeout", "20", "--value", "r1"]
    result = await asyncio.to_thread(
        CliRunner().invoke, resync_command, [*args, "--kubeconfig", str(cluster.kubeconfig)]
    )
    assert result.exit_code == 1, result.output
    assert "Ready=False InvalidSpec" in result.output and "timed out" not in result.output
    status = (await cluster.kube.get_integration(ns, "acme"))["status"]
    assert status["lastHandledResyncAt"] == "r1"
    assert okta_requests(org) == 0

    await cluster.kube.patch_spec(ns, "acme", {"okta": {"domain": "okta.com"}})
    status = await ready(cluster, ns)
    assert status["observedGeneration"] == 2


async def test_secret_values_never_leak(
    cluster: Cluster,
    start_operator: OperatorStarter,
    org: Sandbox,
    sqlite_url: str,
    logs: LogCapture,
) -> None:
    """Not in status, Events, logs (DEBUG included), nor any request the operator makes."""
    ns = await setup_integration(cluster, org)
    await start_operator([ns], database_url=sqlite_url, okta_url=org.url)
    await ready(cluster, ns)
    # A failure path too: a wrong token, reported in status and an Event.
    await cluster.kube.apply_secret(ns, TOKEN_SECRET, {"token": "wr0ng-t0ken-value"})
    await annotate(cluster, ns, "acme", **{"hris.dev/resync-requested-at": "leak"})
    await wait_for_condition(cluster.kube, ns, "acme", "Stalled", "True", "Unauthorized")

    secrets_ = [org.token, "wr0ng-t0ken-value"]
    encoded = [base64.b64encode(v.encode()).decode() for v in secrets_]
    found = await cluster.kube.get_integration(ns, "acme")
    events = await cluster.kube.events(ns)
    for value in secrets_ + encoded:
        assert value not in json.dumps(found), "status or metadata"
        assert value not in json.dumps(events), "events"
        assert value not in logs.text, "logs"
    assert f"{ns}/acme" in logs.text  # the capture did see the operator's logs
    if cluster.apiserver is not None:
        operator_requests = [
            r
            for r in list(cluster.apiserver)
            if not (
                r.resource is not None
                and r.resource.plural == "secrets"
                and r.method.value != "GET"
            )
        ]
        assert operator_requests
        for request in operator_requests:
            blob = request.text + json.dumps(dict(request.headers)) + str(request.url)
            for value in secrets_ + encoded:
                assert value not in blob, f"{request.method} {request.url}"


@dataclass
class Relay:
    """An SMTP relay (aiosmtpd, in its own thread) that requires a login."""

    username: str = "mailer"
    password: str = "smtp-pa55w0rd"
    received: list[Envelope] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.received.append(envelope)
        return "250 OK"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            self.username.encode(),
            self.password.encode(),
        )
        return AuthResult(success=ok, handled=False)

    def secret(self, port: int) -> dict[str, str]:
        return {
            "host": "127.0.0.1",
            "port": str(port),
            "security": "none",
            "username": self.username,
            "password": self.password,
        }


@pytest.fixture
def relay() -> Iterator[tuple[Relay, int]]:
    mailbox = Relay()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=free_port(),
        authenticator=mailbox.authenticate,
        auth_required=True,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield mailbox, controller.port
    finally:
        controller.stop()


INVITATIONS = {
    "dashboardUrl": "https://dashboard.example.com",
    "from": "People Ops <people-ops@example.com>",
    "smtpSecretRef": {"name": "smtp"},
}


async def test_invitations_are_sent_and_counted(
    cluster: Cluster,
    start_operator: OperatorStarter,
    org: Sandbox,
    directory: Directory,
    sqlite_url: str,
    relay: tuple[Relay, int],
    logs: LogCapture,
) -> None:
    mailbox, port = relay
    ns = await setup_integration(cluster, org)
    await cluster.kube.apply_secret(ns, "smtp", mailbox.secret(port))
    await start_operator([ns], database_url=sqlite_url, okta_url=org.url)
    await ready(cluster, ns)
    assert mailbox.received == []

    # Turned on later: employees synced before are not invited by a sync...
    await cluster.kube.patch_spec(ns, "acme", {"invitations": {"enabled": True, **INVITATIONS}})
    status = await wait_for_generation(cluster.kube, ns, "acme", 2)
    assert status["invitations"] == {"sent": 0, "pending": 0, "failed": 0}

    # ...but on request, through the annotation.
    await annotate(cluster, ns, "acme", **{"hris.dev/invite-all-pending": "first"})
    status = await wait_for_status(
        cluster.kube,
        ns,
        "acme",
        lambda st: st.get("lastHandledInviteAllPending") == "first",
        what="the invitations",
    )
    invitable = [r for r in rows(directory, f"{ns}/acme") if r["active"] and r["work_email"]]
    assert status["invitations"] == {"sent": len(invitable), "pending": 0, "failed": 0}
    assert sorted(r for e in mailbox.received for r in e.rcpt_tos) == sorted(
        r["work_email"] for r in invitable
    )
    reasons = [e["reason"] for e in await cluster.kube.events(ns, "acme")]
    assert "InvitationsQueued" in reasons and "InvitationsSent" in reasons
    assert mailbox.password not in logs.text

    # A second request invites nobody twice.
    await annotate(cluster, ns, "acme", **{"hris.dev/invite-all-pending": "second"})
    await wait_for_status(
        cluster.kube,
        ns,
        "acme",
        lambda st: st.get("lastHandledInviteAllPending") == "second",
        what="the second request",
    )
    assert len(mailbox.received) == len(invitable)


async def syncs_seen(operator: Any, key: str) -> float:
    """How many syncs of ``key`` this operator's metrics count (any outcome)."""
    async with httpx.AsyncClient() as http:
        text = (await http.get(operator.metrics_url)).text
    total = 0.0
    for line in text.splitlines():
        if line.startswith("okta_hris_syncs_total{") and is_integration_series(line, key):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def test_replicas_peer_and_only_the_highest_priority_one_syncs(
    cluster: Cluster,
    start_operator: OperatorStarter,
    org: Sandbox,
    postgres_url: str,
    logs: LogCapture,
) -> None:
    """On PostgreSQL: the operator refuses to peer on SQLite (one file per replica)."""
    ns = await cluster.namespace()
    await cluster.kube.create(
        {
            "apiVersion": "kopf.dev/v1",
            "kind": "KopfPeering",
            "metadata": {"name": "okta-hris", "namespace": ns},
        }
    )
    await cluster.kube.apply_secret(ns, TOKEN_SECRET, {"token": org.token})
    common = {"database_url": postgres_url, "okta_url": org.url, "peering": "okta-hris"}
    standby = await start_operator([ns], priority=100, **common)
    active = await start_operator([ns], priority=200, **common)
    await eventually(
        probing(lambda: "Pausing operations in favour of" in logs.text),
        what="the standby to pause",
    )

    await cluster.kube.create(integration(ns, "acme", secret=TOKEN_SECRET))
    await ready(cluster, ns)
    key = f"{ns}/acme"
    assert await syncs_seen(active, key) == 1
    assert await syncs_seen(standby, key) == 0

    # The active replica goes away: the standby takes over and answers requests.
    await active.stop()
    await annotate(cluster, ns, "acme", **{"hris.dev/resync-requested-at": "failover"})
    await wait_for_status(
        cluster.kube,
        ns,
        "acme",
        lambda st: st.get("lastHandledResyncAt") == "failover",
        what="the standby to take over",
        within=60,
    )
    assert await syncs_seen(standby, key) == 1


async def test_the_run_command_serves_until_terminated(
    cluster: Cluster, org: Sandbox, sqlite_url: str, tmp_path: Path
) -> None:
    """``okta-hris run`` as a process: the handlers, probes, metrics and SIGTERM."""
    ns = await setup_integration(cluster, org)
    liveness = free_port()
    operator = await OperatorProcess.start(
        kubeconfig=cluster.kubeconfig,
        namespace=ns,
        database_url=sqlite_url,
        environ={"HRIS_OKTA_URL": org.url},
        args=[f"--liveness-port={liveness}", "--log-format=json"],
    )
    try:
        await ready(cluster, ns)
        async with httpx.AsyncClient() as http:
            probe = await eventually(
                lambda: _get(http, f"http://127.0.0.1:{liveness}/healthz"), what="liveness"
            )
            assert probe.status_code == 200
            text = (await http.get(operator.metrics_url)).text
        active = {**integration_labels(f"{ns}/acme"), "state": "active"}
        assert metric_value(text, "okta_hris_employees", active) is not None
    finally:
        code = await operator.stop()
    output = "\n".join(operator.lines)
    assert code == 0, output[-3000:]
    assert org.token not in output
    with Directory.open(sqlite_url) as directory:  # --database chose the directory
        assert directory.summary(f"{ns}/acme").active > 0


async def _get(http: httpx.AsyncClient, url: str) -> httpx.Response | None:
    try:
        return await http.get(url)
    except httpx.TransportError:
        return None


def sync_windows(cluster: Cluster, ns: str, name: str) -> list[tuple[int, int]]:
    """(resourceVersion shown Syncing, resourceVersion shown done) of each sync, from kmock's
    history of the object: resource versions order every write of the API server."""
    assert cluster.apiserver is not None
    history = cluster.apiserver.objects[("hris.dev/v1alpha1/oktaintegrations", ns, name)].history
    windows: list[tuple[int, int]] = []
    started: int | None = None
    for version in history:
        if version is None:
            continue
        reconciling = condition(dict(version.get("status") or {}), "Reconciling").get("status")
        revision = int(version["metadata"]["resourceVersion"])
        if reconciling == "True" and started is None:
            started = revision
        elif reconciling == "False" and started is not None:
            windows.append((started, revision))
            started = None
    return windows


@pytest.mark.parametrize("limit", [1, 3])
async def test_concurrent_syncs_are_capped(
    cluster: Cluster, start_operator: OperatorStarter, org: Sandbox, sqlite_url: str, limit: int
) -> None:
    if cluster.apiserver is None:
        pytest.skip("reads the API server's history of writes (kmock only)")
    org.set_latency(0.05)
    names = ["a", "b", "c"]
    ns = await setup_integration(cluster, org, name=names[0])
    for name in names[1:]:
        await cluster.kube.create(integration(ns, name, secret=TOKEN_SECRET))
    environ = {"HRIS_MAX_CONCURRENT_SYNCS": str(limit)}
    await start_operator([ns], database_url=sqlite_url, okta_url=org.url, environ=environ)
    for name in names:
        await ready(cluster, ns, name)

    windows = sorted(w for name in names for w in sync_windows(cluster, ns, name))
    assert len(windows) == len(names)
    overlapping = max(
        sum(1 for start, end in windows if start <= moment < end) for moment, _ in windows
    )
    if limit == 1:
        assert overlapping == 1
    else:
        assert overlapping > 1  # they do run side by side when allowed


async def test_an_approval_is_used_once_and_never_for_a_later_hold(
    cluster: Cluster,
    start_operator: OperatorStarter,
    org: Sandbox,
    directory: Directory,
    sqlite_url: str,
) -> None:
    ns = await setup_integration(cluster, org, safety={"maxDeactivations": "2"})
    operator = await start_operator([ns], database_url=sqlite_url, okta_url=org.url)
    await ready(cluster, ns)
    key = f"{ns}/acme"
    country, _ = most_common_country(directory, key)
    everyone = directory.summary(key).active
    filtered = {"sync": {"scope": "Filtered"}, "filters": {"countries": {"include": [country]}}}

    async def generation(number: int, what: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        return await wait_for_status(
            cluster.kube,
            ns,
            "acme",
            lambda st: st.get("observedGeneration") == number and what(st),
            what=f"generation {number}",
        )

    await cluster.kube.patch_spec(ns, "acme", filtered)
    count = (await generation(2, lambda st: "heldDeactivations" in st))["heldDeactivations"]
    await annotate(cluster, ns, "acme", **{"hris.dev/approve-deactivations": str(count)})
    status = await ready(cluster, ns)
    assert status["lastHandledApproval"] | {"time": None} == {
        "value": str(count),
        "deactivations": count,
        "result": "Released",
        "time": None,
    }
    assert directory.summary(key).active == everyone - count

    # Everyone again, then the same filter again: a new hold of the same size, which the
    # annotation (still there, already used) must not release, now or after a restart.
    everyone_again = {"sync": {"scope": "All"}, "filters": {"countries": {"include": []}}}
    await cluster.kube.patch_spec(ns, "acme", everyone_again)
    await generation(3, lambda st: condition(st, "Ready").get("status") == "True")
    assert directory.summary(key).active == everyone
    await cluster.kube.patch_spec(ns, "acme", filtered)
    status = await generation(4, lambda st: "heldDeactivations" in st)
    assert status["heldDeactivations"] == count
    assert f'e.g. "{count}/2"' in condition(status, "Stalled")["message"]
    await operator.stop()
    restarted = await start_operator([ns], database_url=sqlite_url, okta_url=org.url)

    async def waiting() -> bool:
        async with httpx.AsyncClient() as http:
            text = (await http.get(restarted.metrics_url)).text
        labels = integration_labels(key)
        return metric_value(text, "okta_hris_next_sync_timestamp_seconds", labels) is not None

    await eventually(waiting, what="the restarted operator to wait for the next sync")
    await asyncio.sleep(QUIET_PERIOD_S)
    status = (await cluster.kube.get_integration(ns, "acme"))["status"]
    assert status["heldDeactivations"] == count
    assert directory.summary(key).active == everyone

    # A note after the count makes a new approval.
    await annotate(cluster, ns, "acme", **{"hris.dev/approve-deactivations": f"{count}/2"})
    status = await ready(cluster, ns)
    assert status["lastHandledApproval"]["value"] == f"{count}/2"
    assert directory.summary(key).active == everyone - count


async def test_an_approval_without_a_matching_hold_is_spent(
    cluster: Cluster, start_operator: OperatorStarter, org: Sandbox, sqlite_url: str
) -> None:
    ns = await setup_integration(cluster, org)
    await start_operator([ns], database_url=sqlite_url, okta_url=org.url)
    await ready(cluster, ns)

    await annotate(cluster, ns, "acme", **{"hris.dev/approve-deactivations": "5"})
    status = await wait_for_status(
        cluster.kube, ns, "acme", lambda st: "lastHandledApproval" in st, what="the approval"
    )
    assert status["lastHandledApproval"]["result"] == "NoMatchingHold"
    assert "deactivations" not in status["lastHandledApproval"]

    async def ignored() -> list[str]:
        events = await cluster.kube.events(ns, "acme")
        return [e["message"] for e in events if e["reason"] == "ApprovalIgnored"]

    assert await eventually(ignored, what="the event") == [
        'approval "5" released nothing: no sync is held'
    ]


async def test_a_failure_to_queue_invitations_backs_off_and_warns_once(
    cluster: Cluster,
    start_operator: OperatorStarter,
    org: Sandbox,
    directory: Directory,
    sqlite_url: str,
    relay: tuple[Relay, int],
    logs: LogCapture,
) -> None:
    mailbox, port = relay
    ns = await setup_integration(cluster, org)
    await cluster.kube.apply_secret(ns, "smtp", mailbox.secret(port))
    await start_operator([ns], database_url=sqlite_url, okta_url=org.url)
    await ready(cluster, ns)
    await cluster.kube.patch_spec(ns, "acme", {"invitations": {"enabled": True, **INVITATIONS}})
    await wait_for_generation(cluster.kube, ns, "acme", 2)
    # The directory refuses every new invitation (a real database error, in the operator's
    # own transaction).
    with directory.engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TRIGGER refuse_invitations BEFORE INSERT ON invitations "
            "BEGIN SELECT RAISE(ABORT, 'invitations refused'); END"
        )

    await annotate(cluster, ns, "acme", **{"hris.dev/invite-all-pending": "x"})
    attempt = "Cannot queue invitations of"
    await eventually(probing(lambda: attempt in logs.text), what="an attempt")
    await asyncio.sleep(QUIET_PERIOD_S)
    # Backoff from 0.3 s (FAST_TIMING): a handful of attempts, not a hot loop.
    assert 1 <= logs.text.count(attempt) <= 6
    events = await cluster.kube.events(ns, "acme")
    warnings = [e for e in events if e["reason"] == "InvitationsNotQueued"]
    assert len(warnings) == 1 and "invitations refused" in warnings[0]["message"]

    with directory.engine.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER refuse_invitations")
    status = await wait_for_status(
        cluster.kube,
        ns,
        "acme",
        lambda st: st.get("lastHandledInviteAllPending") == "x",
        what="the invitations, once the directory takes them",
    )
    assert status["invitations"]["sent"] == len(mailbox.received) > 0


async def test_a_refused_status_write_is_retried_until_it_lands(
    cluster: Cluster, start_operator: OperatorStarter, org: Sandbox, sqlite_url: str
) -> None:
    if cluster.apiserver is None:
        pytest.skip("needs an API server that refuses writes on demand (kmock)")
    ns = await setup_integration(cluster, org)
    await start_operator([ns], database_url=sqlite_url, okta_url=org.url)
    await ready(cluster, ns)

    # API priority and fairness says 429 to the next two status writes: the one that says
    # "Syncing" and the one that says how the sync ended (with the echo).
    refusal = cluster.apiserver.refuse("PATCH", PLURAL, subresource="status", times=2)
    await annotate(cluster, ns, "acme", **{"hris.dev/resync-requested-at": "r1"})
    status = await wait_for_status(
        cluster.kube,
        ns,
        "acme",
        lambda st: st.get("lastHandledResyncAt") == "r1",
        what="the echo, written on a retry",
        within=10,
    )
    assert refusal.times == 0
    assert condition(status, "Reconciling")["reason"] == "Idle"
    assert condition(status, "Ready")["status"] == "True"


async def metric_lines(operator: Any, key: str) -> list[str]:
    async with httpx.AsyncClient() as http:
        text = (await http.get(operator.metrics_url)).text
    return [
        line
        for line in text.splitlines()
        if not line.startswith("#") and is_integration_series(line, key)
    ]


async def test_a_paused_replica_stops_reporting_the_integrations(
    cluster: Cluster,
    start_operator: OperatorStarter,
    org: Sandbox,
    postgres_url: str,
) -> None:
    """On PostgreSQL: the operator refuses to peer on SQLite (one file per replica)."""
    ns = await cluster.namespace()
    await cluster.kube.create(
        {
            "apiVersion": "kopf.dev/v1",
            "kind": "KopfPeering",
            "metadata": {"name": "okta-hris", "namespace": ns},
        }
    )
    await cluster.kube.apply_secret(ns, TOKEN_SECRET, {"token": org.token})
    common = {"database_url": postgres_url, "okta_url": org.url, "peering": "okta-hris"}
    first = await start_operator([ns], priority=100, **common)
    await cluster.kube.create(integration(ns, "acme", secret=TOKEN_SECRET))
    await ready(cluster, ns)
    key = f"{ns}/acme"
    gauges = ("okta_hris_employees{", "okta_hris_teams{", "okta_hris_last_success_timestamp")
    assert any(line.startswith(gauges) for line in await metric_lines(first, key))

    second = await start_operator([ns], priority=200, **common)

    async def first_is_silent() -> bool:
        return not any(line.startswith(gauges) for line in await metric_lines(first, key))

    await eventually(first_is_silent, what="the paused replica to drop its gauges")
    await eventually(
        lambda: _reports(second, key, "okta_hris_next_sync_timestamp_seconds{"),
        what="the active replica to report the schedule",
    )
    # ...and the directory as the status says, without waiting for its first sync.
    assert await _reports(second, key, "okta_hris_employees{")
    assert await syncs_seen(second, key) == 0
    # Counters keep their history.
    assert any(line.startswith("okta_hris_syncs_total{") for line in await metric_lines(first, key))


async def _reports(operator: Any, key: str, prefix: str) -> bool:
    return any(line.startswith(prefix) for line in await metric_lines(operator, key))
