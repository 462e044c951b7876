"""SPEC §11 through the operator: Okta event hooks → the receiver → a targeted sync → the
directory, status.eventHooks and metrics; a wrong Authorization, a suspended integration,
a targeted sync that fails (its events are covered by the retry).

Real Kopf against the API server (kmock, or a cluster with ``-m cluster``), the Okta sandbox
over HTTP delivering its System Log to the operator's receiver as Okta does, an SQLite directory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from okta_hris.directory.store import Directory
from okta_hris.domain.events import CONSUMED_EVENT_TYPES
from okta_hris.okta import OktaClient
from okta_hris.okta.eventhooks import EventHooksApi
from okta_hris.sandbox import Fault, FaultKind, HookDeliveryConfig, Sandbox
from tests.eventhooks.okta_bodies import delivery, log_event

from .conftest import Cluster, OperatorStarter
from .operator_harness import (
    LogCapture,
    OperatorThread,
    condition,
    create_integration,
    eventually,
    metric_value,
    metrics_text,
    wait_for_condition,
    wait_for_generation,
    wait_for_status,
)

HOOK_SECRET = "Bearer op-hook-s3cret-value"
HOOK_SECRET_NAME = "okta-hook"
# Each write is delivered at once, and a failure is retried quickly (Okta waits 3 s).
QUICK = HookDeliveryConfig(batch_window=0.0, timeout=1.0, retry_delay=0.05)
HOOKS_ON: dict[str, Any] = {
    "eventHooks": {"enabled": True, "authSecretRef": {"name": HOOK_SECRET_NAME}, "debounce": "0s"}
}


@pytest.fixture
def org(sandbox_factory: Callable[..., Sandbox]) -> Sandbox:
    return sandbox_factory(
        users=12, groups=2, seed=14, token="okta-hooks-t0ken", hook_delivery=QUICK
    )


@pytest.fixture
def directory(sqlite_url: str) -> Iterator[Directory]:
    with Directory.open(sqlite_url) as opened:
        yield opened


async def started(
    cluster: Cluster, start_operator: OperatorStarter, org: Sandbox, sqlite_url: str, **environ: str
) -> tuple[str, OperatorThread, dict[str, Any]]:
    """An integration with event hooks on, synced once; the operator; its status."""
    ns = await cluster.namespace()
    await cluster.kube.apply_secret(ns, HOOK_SECRET_NAME, {"authorization": HOOK_SECRET})
    await create_integration(cluster.kube, ns, org.token, sync=HOOKS_ON)
    operator = await start_operator(
        [ns], database_url=sqlite_url, okta_url=org.url, environ=environ
    )
    status = await wait_for_generation(cluster.kube, ns, "acme", 1, ready=True)
    return ns, operator, status


def receiver_url(operator: OperatorThread, ns: str, name: str = "acme") -> str:
    return f"{operator.hooks_url}/hooks/okta/{ns}/{name}"


async def register(org: Sandbox, url: str) -> None:
    """As ``okta-hris hooks register`` does: create, and have Okta verify it."""
    async with OktaClient(org.url, org.token) as client:
        hooks = EventHooksApi(client)
        hook = await hooks.create("okta-hris", url, CONSUMED_EVENT_TYPES, HOOK_SECRET)
        assert (await hooks.verify(hook.id)).verified


def okta_post(org: Sandbox, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """A write through the sandbox's Okta API, as an admin would make it."""
    with httpx.Client(base_url=org.url, headers={"Authorization": f"SSWS {org.token}"}) as okta:
        response = okta.post(path, json=body)
    assert response.status_code == 200, response.text
    written: dict[str, Any] = response.json()
    return written


def new_user(org: Sandbox, login: str) -> str:
    profile = {"firstName": "Grace", "lastName": "Hopper", "login": login, "email": login}
    return str(okta_post(org, "/api/v1/users?activate=true", {"profile": profile})["id"])


def has_row(directory: Directory, key: str, okta_id: str) -> bool:
    return any(e.okta_id == okta_id and e.active for e in directory.list_employees(integration=key))


async def test_a_user_created_in_okta_reaches_the_directory_by_a_targeted_sync(
    cluster: Cluster,
    start_operator: OperatorStarter,
    org: Sandbox,
    sqlite_url: str,
    directory: Directory,
) -> None:
    ns, operator, before = await started(cluster, start_operator, org, sqlite_url)
    key = f"{ns}/acme"
    assert before["lastSyncMode"] == "Full"
    await register(org, receiver_url(operator, ns))
    user_id = new_user(org, "grace@example.com")

    status = await wait_for_status(
        cluster.kube,
        ns,
        "acme",
        lambda s: (
            s.get("lastSyncMode") == "Event" and (s.get("eventHooks") or {}).get("applied", 0) >= 2
        ),
        what="a targeted sync of the new user's events",
    )
    assert has_row(directory, key, user_id)
    hooks = status["eventHooks"]
    assert hooks["received"] >= 2 and hooks["lastEventTime"]
    # The periodic sync, the safety net, keeps its time: events do not put it off.
    assert status["nextSyncTime"] == before["nextSyncTime"]
    assert condition(status, "Ready")["status"] == "True"
    assert status["lastSync"]["created"] == 1
    runs = directory.runs(key, 5)
    assert runs[0].mode == "Event" and runs[0].outcome == "succeeded"

    # A leaver: deactivated in Okta, inactive in the directory seconds later, by another one.
    okta_post(org, f"/api/v1/users/{user_id}/lifecycle/deactivate")
    applied = hooks["applied"]
    status = await wait_for_status(
        cluster.kube,
        ns,
        "acme",
        lambda s: (s.get("eventHooks") or {}).get("applied", 0) > applied,
        what="a targeted sync of the deactivation",
    )
    assert status["lastSyncMode"] == "Event" and status["lastSync"]["deactivated"] == 1
    assert not has_row(directory, key, user_id)
    assert status["nextSyncTime"] == before["nextSyncTime"]

    text = await metrics_text(operator.metrics_url)
    labels = {"namespace": ns, "name": "acme"}
    assert (metric_value(text, "okta_hris_hook_events_received_total", labels) or 0) >= 2
    assert (metric_value(text, "okta_hris_hook_events_applied_total", labels) or 0) >= 2
    event_syncs = {**labels, "mode": "Event", "outcome": "succeeded"}
    assert metric_value(text, "okta_hris_syncs_total", event_syncs) == 2
    assert metric_value(text, "okta_hris_hook_last_event_timestamp_seconds", labels)


async def unauthorized(operator: OperatorThread, ns: str) -> float | None:
    """Deliveries to ``ns/acme`` refused for their Authorization, as the metric says."""
    labels = {"namespace": ns, "name": "acme", "reason": "unauthorized"}
    return metric_value(
        await metrics_text(operator.metrics_url), "okta_hris_hook_events_rejected_total", labels
    )


async def test_a_wrong_authorization_is_refused_and_queues_nothing(
    cluster: Cluster,
    start_operator: OperatorStarter,
    org: Sandbox,
    sqlite_url: str,
    logs: LogCapture,
) -> None:
    ns, operator, _ = await started(
        cluster, start_operator, org, sqlite_url, HRIS_SECRET_RETRY="0.2"
    )
    url = receiver_url(operator, ns)
    body = delivery(log_event("user.lifecycle.create", ("00uwrongauth1",)))
    hooks = operator.runtime.integrations[f"{ns}/acme"].hooks
    async with httpx.AsyncClient() as http:
        refused = await http.post(url, content=body, headers={"Authorization": "Bearer guess"})
        missing = await http.post(url, content=body)
        unknown = await http.post(
            receiver_url(operator, ns, "other"),
            content=body,
            headers={"Authorization": HOOK_SECRET},
        )
        challenge = await http.get(url, headers={"X-Okta-Verification-Challenge": "c-123"})
        assert (refused.status_code, missing.status_code, unknown.status_code) == (401, 401, 404)
        assert challenge.json() == {"verification": "c-123"}
        malformed = await http.post(url, content=b"{", headers={"Authorization": HOOK_SECRET})
        assert malformed.status_code == 400
        assert hooks.pending.received == 0 and hooks.ready is None
        assert await unauthorized(operator, ns) == 2
        text = await metrics_text(operator.metrics_url)
        labels = {"namespace": ns, "name": "acme", "reason": "malformed"}
        assert metric_value(text, "okta_hris_hook_events_rejected_total", labels) == 1

        # A rotated Secret is read again (HRIS_SECRET_RETRY): the old value stops working.
        await cluster.kube.apply_secret(ns, HOOK_SECRET_NAME, {"authorization": "Bearer rotated"})

        async def rotated() -> bool:
            answer = await http.post(url, content=body, headers={"Authorization": "Bearer rotated"})
            return answer.status_code == 200

        await eventually(rotated, what="the rotated Authorization value to be accepted")
        old = await http.post(url, content=body, headers={"Authorization": HOOK_SECRET})
        assert old.status_code == 401
    assert (await unauthorized(operator, ns) or 0) >= 3
    assert HOOK_SECRET not in logs.text and "Bearer rotated" not in logs.text


async def test_events_of_a_suspended_integration_are_dropped_and_counted_not_synced(
    cluster: Cluster,
    start_operator: OperatorStarter,
    org: Sandbox,
    sqlite_url: str,
    directory: Directory,
) -> None:
    ns, operator, _ = await started(cluster, start_operator, org, sqlite_url)
    key = f"{ns}/acme"
    await register(org, receiver_url(operator, ns))
    await cluster.kube.patch_spec(ns, "acme", {"sync": {"suspend": True}})
    await wait_for_condition(cluster.kube, ns, "acme", "Reconciling", "False", "Suspended")
    user_id = new_user(org, "suspended@example.com")
    labels = {"namespace": ns, "name": "acme", "reason": "suspended"}

    async def dropped() -> float | None:
        text = await metrics_text(operator.metrics_url)
        return metric_value(text, "okta_hris_hook_events_rejected_total", labels)

    assert await eventually(dropped, what="the suspended integration's events dropped") >= 2
    hooks = operator.runtime.integrations[key].hooks
    assert hooks.ready is None and not hooks.pending.waiting
    assert not has_row(directory, key, user_id)
    # Resuming syncs (a spec change: Full), which reads what the dropped events named.
    await cluster.kube.patch_spec(ns, "acme", {"sync": {"suspend": False}})
    await wait_for_generation(cluster.kube, ns, "acme", 3, ready=True)
    assert has_row(directory, key, user_id)


async def test_events_of_a_failed_targeted_sync_are_covered_by_the_retry(
    cluster: Cluster,
    start_operator: OperatorStarter,
    org: Sandbox,
    sqlite_url: str,
    directory: Directory,
) -> None:
    ns, operator, _ = await started(
        cluster, start_operator, org, sqlite_url, HRIS_OKTA_MAX_RETRIES="0"
    )
    key = f"{ns}/acme"
    await register(org, receiver_url(operator, ns))
    # The targeted sync reads the user by id, and Okta fails that once; the retry (an
    # incremental sync, after the backoff) lists users and reads the new one anyway.
    org.add_fault(Fault(kind=FaultKind.UNAVAILABLE, path_prefix="/api/v1/users/", on_request=1))
    user_id = new_user(org, "retry@example.com")

    status = await wait_for_status(
        cluster.kube,
        ns,
        "acme",
        lambda s: (
            (s.get("eventHooks") or {}).get("applied", 0) >= 2
            and condition(s, "Ready").get("status") == "True"
        ),
        what="the events applied by the retry",
    )
    assert status["eventHooks"]["applied"] == status["eventHooks"]["received"]
    assert status["lastSyncMode"] == "Incremental"
    assert has_row(directory, key, user_id)
    modes = [(run.mode, run.outcome) for run in reversed(directory.runs(key, 5))]
    assert ("Event", "failed") in modes
    assert modes[-1] == ("Incremental", "succeeded")
