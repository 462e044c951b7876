"""Sharding: several operators, each owning the OktaIntegrations its label selector matches.

Two real operators (Kopf) watch the same namespace on one API server, with
``HRIS_SHARD_SELECTOR`` ``hris.dev/shard=a`` and ``hris.dev/shard=b``, and share one directory
(as shards must: a moved integration carries on from its rows). Each syncs only its own; one
matching neither is never touched; relabelling an integration hands it over (the finalizer
stays, the new owner syncs and later finalizes it, the old one lets it go).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import kmock
import pytest
import sqlalchemy as sa

from okta_hris.controller.handlers import FINALIZER
from okta_hris.controller.sharding import SHARD_LABEL
from okta_hris.directory import schema
from okta_hris.directory.store import Directory
from okta_hris.resource.spec import PLURAL, RESYNC_ANNOTATION
from okta_hris.sandbox import Sandbox

from .conftest import Cluster, OperatorStarter
from .operator_harness import (
    OperatorThread,
    TestKube,
    create_integration,
    eventually,
    integration_samples,
    metrics_text,
    probing,
    wait_for_condition,
    wait_for_status,
)

QUIET_PERIOD_S = 1.0  # long enough for an operator that wrongly acts on an object to have acted


@pytest.fixture
def org(sandbox_factory: Callable[..., Sandbox]) -> Sandbox:
    return sandbox_factory(users=40, groups=4, seed=5, token="shard-okta-token")


async def set_shard(kube: TestKube, namespace: str, name: str, shard: str | None) -> None:
    await kube._request(
        "PATCH",
        f"/apis/hris.dev/v1alpha1/namespaces/{namespace}/{PLURAL}/{name}",
        payload={"metadata": {"labels": {SHARD_LABEL: shard}}},
        content_type="application/merge-patch+json",
    )


async def syncs_by(operator: OperatorThread, key: str, outcome: str | None = None) -> int:
    """The sync attempts this operator made of integration ``key`` (with that outcome), from
    its own /metrics."""
    text = await metrics_text(operator.metrics_url)
    return int(
        sum(
            s.value
            for s in integration_samples(text, key)
            if s.name == "okta_hris_syncs_total" and outcome in (None, s.labels["outcome"])
        )
    )


def removed_at(directory_url: str, key: str) -> Any:
    with Directory.open(directory_url) as directory, directory.engine.connect() as conn:
        table = schema.integrations
        return conn.scalar(sa.select(table.c.removed_at).where(table.c.integration == key))


async def start_shards(
    start_operator: OperatorStarter, ns: str, org: Sandbox, database_url: str
) -> tuple[OperatorThread, OperatorThread]:
    shards = []
    for shard in ("a", "b"):
        environ = {"HRIS_SHARD_SELECTOR": f"{SHARD_LABEL}={shard}"}
        shards.append(
            await start_operator([ns], database_url=database_url, okta_url=org.url, environ=environ)
        )
    return shards[0], shards[1]


async def test_each_shard_syncs_only_its_own_and_a_relabel_hands_one_over(
    cluster: Cluster, org: Sandbox, start_operator: OperatorStarter, database_url: str
) -> None:
    kube = cluster.kube
    ns = await cluster.namespace()
    await create_integration(kube, ns, org.token, "one")
    await create_integration(kube, ns, None, "two")
    await create_integration(kube, ns, None, "stray")  # in no shard
    await set_shard(kube, ns, "one", "a")
    await set_shard(kube, ns, "two", "b")
    a, b = await start_shards(start_operator, ns, org, database_url)
    await wait_for_condition(kube, ns, "one", "Ready", "True", "SyncSucceeded")
    await wait_for_condition(kube, ns, "two", "Ready", "True", "SyncSucceeded")
    await asyncio.sleep(QUIET_PERIOD_S)

    assert (await syncs_by(a, f"{ns}/one"), await syncs_by(a, f"{ns}/two")) == (1, 0)
    assert (await syncs_by(b, f"{ns}/one"), await syncs_by(b, f"{ns}/two")) == (0, 1)
    stray = await kube.get_integration(ns, "stray")
    assert "status" not in stray and FINALIZER not in stray["metadata"].get("finalizers", [])
    assert set(a.runtime.integrations) == {f"{ns}/one"}
    assert set(b.runtime.integrations) == {f"{ns}/two"}
    if cluster.apiserver is not None:
        # Filtered by the API server: neither operator ever listed or watched all of them.
        selectors = {
            request.params.get("labelSelector")
            for request in list(cluster.apiserver)
            if request.resource is not None
            and request.resource.plural == PLURAL
            and request.action in (kmock.action.LIST, kmock.action.WATCH)
        }
        assert selectors == {f"{SHARD_LABEL}=a", f"{SHARD_LABEL}=b"}

    # Hand "one" over to shard b: a lets it go, b syncs it on request and owns its end.
    await set_shard(kube, ns, "one", "b")
    await eventually(
        probing(lambda: f"{ns}/one" in b.runtime.integrations), what="shard b to take over one"
    )
    # Each shard hears of the relabel on its own watch: a may let go a moment after b took it.
    await eventually(
        probing(lambda: f"{ns}/one" not in a.runtime.integrations), what="shard a to let one go"
    )
    await kube.annotate_integration(ns, "one", {RESYNC_ANNOTATION: "handed-over"})
    await wait_for_status(
        kube,
        ns,
        "one",
        lambda s: s.get("lastHandledResyncAt") == "handed-over",
        what="the resync by its new shard",
    )
    assert await syncs_by(b, f"{ns}/one") == 1
    assert await syncs_by(a, f"{ns}/one") == 1  # its first sync only: a never resynced it
    found = await kube.get_integration(ns, "one")
    assert found["metadata"]["finalizers"].count(FINALIZER) == 1

    await kube.delete_integration(ns, "one")
    await eventually(lambda: _gone(kube, ns, "one"), what="the deletion finalized by shard b")
    assert removed_at(database_url, f"{ns}/one") is not None
    assert removed_at(database_url, f"{ns}/two") is None


async def _gone(kube: TestKube, ns: str, name: str) -> bool:
    return not await kube.integration_exists(ns, name)


async def test_an_integration_leaving_mid_sync_finishes_that_sync_and_the_lease_keeps_the_new_owner_off(
    cluster: Cluster,
    sandbox_factory: Callable[..., Sandbox],
    start_operator: OperatorStarter,
    database_url: str,
) -> None:
    # Slow Okta: the first sync takes long enough to relabel the integration during it.
    slow = sandbox_factory(users=40, groups=4, seed=5, token="shard-okta-token", latency=0.3)
    kube = cluster.kube
    ns = await cluster.namespace()
    await create_integration(kube, ns, slow.token, "one")
    await set_shard(kube, ns, "one", "a")
    a, b = await start_shards(start_operator, ns, slow, database_url)
    await wait_for_condition(kube, ns, "one", "Reconciling", "True")
    await set_shard(kube, ns, "one", "b")
    # a's sync is not cancelled by the handover: it commits (b's attempts meanwhile are told
    # SyncInProgress by the lease, and retried). Then b owns the integration.
    key = f"{ns}/one"
    await eventually(lambda: _succeeded(a, key), within=60, what="a's sync to finish")
    await eventually(probing(lambda: key in b.runtime.integrations), what="b to own one")
    assert key not in a.runtime.integrations
    await kube.annotate_integration(ns, "one", {RESYNC_ANNOTATION: "after-handover"})
    await wait_for_status(
        kube,
        ns,
        "one",
        lambda s: s.get("lastHandledResyncAt") == "after-handover",
        what="the resync by its new shard",
    )
    assert await syncs_by(a, key, "succeeded") == 1
    assert await syncs_by(b, key, "succeeded") >= 1
    # Nothing applied twice: every employee was created by exactly one sync.
    with Directory.open(database_url) as directory, directory.engine.connect() as conn:
        runs = schema.sync_runs
        stats = conn.execute(
            sa.select(runs.c.stats).where(runs.c.integration == key, runs.c.outcome == "succeeded")
        ).scalars()
        created = sum(int((s or {}).get("created", 0)) for s in stats)
        employees = int(
            conn.scalar(
                sa.select(sa.func.count())
                .select_from(schema.employees)
                .where(schema.employees.c.integration == key)
            )
            or 0
        )
    assert created == employees > 0


async def _succeeded(operator: OperatorThread, key: str) -> bool:
    return await syncs_by(operator, key, "succeeded") > 0
