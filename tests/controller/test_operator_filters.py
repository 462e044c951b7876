"""SPEC §9 through the operator: filters that match nobody stall the sync instead of emptying
the directory, warnings become Events, and status reports data quality and used teams.

Real Kopf against the API server (kmock, or a cluster with ``-m cluster``), the Okta sandbox
over HTTP, an SQLite directory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from okta_hris.directory import schema
from okta_hris.directory.store import Directory
from okta_hris.sandbox import Sandbox

from .conftest import Cluster, OperatorStarter
from .operator_harness import (
    condition,
    create_integration,
    eventually,
    wait_for_condition,
    wait_for_generation,
    wait_for_status,
)


@pytest.fixture
def org(sandbox_factory: Callable[..., Sandbox]) -> Sandbox:
    return sandbox_factory(users=80, groups=8, seed=5, token="okta-filters-t0ken")


@pytest.fixture
def directory(sqlite_url: str) -> Iterator[Directory]:
    with Directory.open(sqlite_url) as opened:
        yield opened


def okta(org: Sandbox) -> httpx.Client:
    return httpx.Client(base_url=org.url, headers={"Authorization": f"SSWS {org.token}"})


def largest_team(org: Sandbox) -> dict[str, Any]:
    """The OKTA_GROUP with the most members (what an Engineering filter would name)."""
    with okta(org) as client:
        groups = client.get(
            "/api/v1/groups", params={"filter": 'type eq "OKTA_GROUP"', "expand": "stats"}
        ).json()
    return max(groups, key=lambda g: g["_embedded"]["stats"]["usersCount"])


def active_rows(directory: Directory, key: str) -> list[dict[str, Any]]:
    with directory.engine.connect() as conn:
        query = sa.select(schema.employees).where(
            schema.employees.c.integration == key, schema.employees.c.active.is_(True)
        )
        return [dict(row) for row in conn.execute(query).mappings()]


def team_rows(directory: Directory, key: str) -> list[dict[str, Any]]:
    with directory.engine.connect() as conn:
        query = sa.select(schema.teams).where(schema.teams.c.integration == key)
        return [dict(row) for row in conn.execute(query).mappings()]


async def setup(cluster: Cluster, org: Sandbox, **spec: Any) -> str:
    ns = await cluster.namespace()
    await create_integration(cluster.kube, ns, org.token, **spec)
    return ns


async def test_a_team_typo_stalls_with_a_did_you_mean_and_writes_nothing(
    cluster: Cluster,
    start_operator: OperatorStarter,
    org: Sandbox,
    directory: Directory,
    sqlite_url: str,
) -> None:
    team = largest_team(org)
    name = team["profile"]["name"]
    typo = name[:-1] if len(name) > 3 else name + "x"
    ns = await setup(
        cluster, org, sync={"scope": "Filtered"}, filters={"teams": {"include": [typo]}}
    )
    await start_operator([ns], database_url=sqlite_url, okta_url=org.url)

    status = await wait_for_condition(cluster.kube, ns, "acme", "Stalled", "True", "UnknownTeam")
    message = condition(status, "Stalled")["message"]
    assert "spec.filters.teams.include[0]" in message and repr(typo) in message
    assert f"did you mean {name!r}?" in message
    assert condition(status, "Ready")["status"] == "False"
    assert active_rows(directory, f"{ns}/acme") == []
    events = await eventually(
        lambda: _warnings(cluster, ns, "UnknownTeam"), what="an UnknownTeam Warning event"
    )
    assert f"did you mean {name!r}?" in events[0]["message"]

    # Fixed by the spec, and by id, which survives a rename.
    await cluster.kube.patch_spec(
        ns, "acme", {"filters": {"teams": {"include": [f"id:{team['id']}"]}}}
    )
    status = await wait_for_condition(cluster.kube, ns, "acme", "Ready", "True", "SyncSucceeded")
    members = team["_embedded"]["stats"]["usersCount"]
    assert 0 < status["lastSync"]["matched"] <= members
    assert condition(status, "Stalled")["status"] == "False"


async def test_a_group_renamed_in_okta_stops_the_sync_instead_of_deactivating_its_members(
    cluster: Cluster,
    start_operator: OperatorStarter,
    org: Sandbox,
    directory: Directory,
    sqlite_url: str,
) -> None:
    team = largest_team(org)
    name = team["profile"]["name"]
    ns = await setup(
        cluster,
        org,
        sync={"scope": "Filtered"},
        filters={"teams": {"include": [name.upper()]}},  # names ignore case
    )
    await start_operator([ns], database_url=sqlite_url, okta_url=org.url)
    status = await wait_for_condition(cluster.kube, ns, "acme", "Ready", "True", "SyncSucceeded")
    key = f"{ns}/acme"
    before = active_rows(directory, key)
    assert before and len(before) == status["employees"]["active"]
    # Only teams somebody in scope is in reach the directory, and status counts those.
    teams = team_rows(directory, key)
    assert status["teams"] == len(teams) > 0
    assert name in {t["name"] for t in teams}

    with okta(org) as client:
        client.put(
            f"/api/v1/groups/{team['id']}",
            json={"profile": {"name": f"{name} (old)", "description": "renamed"}},
        ).raise_for_status()
    await cluster.kube.annotate_integration(ns, "acme", {"hris.dev/resync-requested-at": "r1"})
    status = await wait_for_status(
        cluster.kube,
        ns,
        "acme",
        lambda st: st.get("lastHandledResyncAt") == "r1",
        what="the resync after the rename",
    )
    assert condition(status, "Stalled")["reason"] == "UnknownTeam"
    message = condition(status, "Stalled")["message"]
    assert f"group {team['id']} was renamed to {name + ' (old)'!r} in Okta" in message
    assert f"id:{team['id']}" in message
    assert active_rows(directory, key) == before  # nobody was deactivated


async def test_status_reports_data_quality_and_an_unknown_employment_attribute(
    cluster: Cluster,
    start_operator: OperatorStarter,
    org: Sandbox,
    directory: Directory,
    sqlite_url: str,
) -> None:
    ns = await setup(cluster, org)
    await start_operator([ns], database_url=sqlite_url, okta_url=org.url)
    status = await wait_for_condition(cluster.kube, ns, "acme", "Ready", "True", "SyncSucceeded")
    key = f"{ns}/acme"
    rows = active_rows(directory, key)
    quality = status["dataQuality"]
    assert set(quality) == {"invalidPhones", "unknownCountries", "incompleteAddresses"}
    incomplete = sum(
        1
        for r in rows
        if not (r["street_address"] and r["city"] and r["zip_code"] and r["country_code"])
    )
    assert quality["incompleteAddresses"] == incomplete
    invalid = sum(1 for r in rows if r["mobile_phone"] and not r["mobile_phone_e164"])
    assert quality["invalidPhones"] == invalid
    employment = {r["okta_id"]: r["employment_status"] for r in rows}
    assert any(employment.values())

    # A misspelt attribute: a Warning Event, and employment values left as they were.
    await cluster.kube.patch_spec(ns, "acme", {"mapping": {"employmentAttribute": "employeType"}})
    status = await wait_for_generation(cluster.kube, ns, "acme", 2, ready=True)
    events = await eventually(
        lambda: _warnings(cluster, ns, "EmploymentAttributeMissing"),
        what="an EmploymentAttributeMissing Warning event",
    )
    assert "'employeType'" in events[0]["message"]
    assert {r["okta_id"]: r["employment_status"] for r in active_rows(directory, key)} == employment


async def _warnings(cluster: Cluster, ns: str, reason: str) -> list[dict[str, Any]]:
    return [
        e
        for e in await cluster.kube.events(ns, "acme")
        if e.get("type") == "Warning" and e.get("reason") == reason
    ]
