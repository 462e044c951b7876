"""Red-team over the real sandbox (HTTP): an integration whose rows were written straight in
by its first sync (COPY on PostgreSQL, past ``STAGED_ROWS``) and then kept by incremental and
Full syncs (upserts, staged past ``STAGED_ROWS``) must hold exactly the rows a new
integration's first sync of the same org writes, in every table the changes touched: mirror
users, groups, members, tallies, teams and employee_teams."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from okta_hris.directory import schema
from okta_hris.directory.statements import STAGED_ROWS
from okta_hris.directory.store import Directory
from okta_hris.resource.spec import OktaIntegrationSpec
from okta_hris.sandbox import Sandbox
from okta_hris.settings import Settings
from okta_hris.sync.engine import SyncReport, SyncRequest, run_sync

KEPT = "people-ops/kept"
SPEC = OktaIntegrationSpec.model_validate(
    {"okta": {"subdomain": "acme", "tokenSecretRef": {"name": "okta"}}}
)
TABLES = (
    schema.okta_users,
    schema.okta_groups,
    schema.okta_group_members,
    schema.okta_user_tallies,
    schema.teams,
    schema.employee_teams,
)


@pytest.fixture
def directory(database_url: str) -> Iterator[Directory]:
    with Directory.open(database_url) as opened:
        yield opened


@pytest.fixture
def org(sandbox_factory: Callable[..., Sandbox]) -> Sandbox:
    return sandbox_factory(users=STAGED_ROWS + 150, groups=12, seed=19)


def sync(org: Sandbox, directory: Directory, integration: str, **extra: Any) -> SyncReport:
    request = SyncRequest(
        integration=integration, spec=SPEC, token=org.token, okta_url=org.url, **extra
    )
    return asyncio.run(run_sync(request, directory, Settings()))


def rows(directory: Directory, integration: str) -> dict[str, list[str]]:
    with directory.engine.connect() as connection:
        return {
            table.name: sorted(
                repr(tuple(v for k, v in row._mapping.items() if k != "integration"))
                for row in connection.execute(
                    sa.select(table).where(table.c.integration == integration)
                )
            )
            for table in TABLES
        }


def differences(a: dict[str, list[str]], b: dict[str, list[str]]) -> dict[str, object]:
    return {
        name: (sorted(set(a[name]) - set(b[name]))[:3], sorted(set(b[name]) - set(a[name]))[:3])
        for name in a
        if a[name] != b[name]
    }


def test_kept_rows_are_a_fresh_first_syncs_rows(org: Sandbox, directory: Directory) -> None:
    assert sync(org, directory, KEPT).mode == "Full"
    with httpx.Client(base_url=org.url, headers={"Authorization": f"SSWS {org.token}"}) as okta:
        groups = [
            g for g in okta.get("/api/v1/groups?limit=200").json() if g["type"] == "OKTA_GROUP"
        ]
        users = [u["id"] for u in okta.get("/api/v1/users?limit=200").json()]
        for n, user_id in enumerate(users[:60]):
            # Memberships moved both ways, and profiles changed (mirror and tallies upserted).
            okta.put(f"/api/v1/groups/{groups[n % len(groups)]['id']}/users/{user_id}")
            members = okta.get(f"/api/v1/users/{user_id}/groups").json()
            team = next((g for g in members if g["type"] == "OKTA_GROUP"), None)
            if team is not None and n % 3 == 0:
                okta.delete(f"/api/v1/groups/{team['id']}/users/{user_id}")
            okta.post(f"/api/v1/users/{user_id}", json={"profile": {"city": f"City {n}"}})
        okta.put(
            f"/api/v1/groups/{groups[0]['id']}",
            json={"profile": {"name": "Renamed \\N team", "description": "back\\slash"}},
        ).raise_for_status()
    before = rows(directory, KEPT)
    second = sync(org, directory, KEPT)
    assert second.mode == "Incremental"
    moved = differences(before, rows(directory, KEPT))
    assert {"okta_users", "okta_group_members", "employee_teams", "teams"} <= moved.keys()
    fresh = f"people-ops/fresh-{second.mode}"
    assert sync(org, directory, fresh).mode == "Full"
    assert differences(rows(directory, KEPT), rows(directory, fresh)) == {}
    sync(org, directory, KEPT, force_full=True)
    assert differences(rows(directory, KEPT), rows(directory, fresh)) == {}
