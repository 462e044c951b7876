"""An incremental sync reads only the changed users' part of the directory (issue 12): the
users Okta's listing returned, those the System Log names, and the rows of teams that may go
unused; everyone else is counted from the stored tallies. The sandbox over HTTP, the directory
on SQLite and PostgreSQL.

Two integrations of one org take the same random changes: one plans from the changed part,
the other (its tallies marked stale before each sync) from the whole state, as every sync did
before. Reports and directories must be the same.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from okta_hris.directory import schema
from okta_hris.directory.store import Directory
from okta_hris.domain.events import EventBatch
from okta_hris.resource.spec import OktaIntegrationSpec
from okta_hris.sandbox import Sandbox
from okta_hris.settings import Settings
from okta_hris.sync.engine import SyncReport, SyncRequest, run_sync
from tests.sync.test_engine import quick_client, spec

PART = "people-ops/part"
WHOLE = "people-ops/whole"
SPECS = {
    "all": spec(),
    "countries": spec(sync={"scope": "Filtered"}, filters={"countries": {"include": ["US"]}}),
    "status": spec(
        sync={"scope": "Filtered"},
        filters={"status": {"exclude": ["Inactive"]}, "countries": {"exclude": ["FR"]}},
    ),
}
# Every table a sync writes for an integration.
TABLES = (
    schema.employees,
    schema.employee_teams,
    schema.teams,
    schema.okta_users,
    schema.okta_groups,
    schema.okta_group_members,
    schema.okta_user_tallies,
)
READ = re.compile(r"(\d+) users read from the directory")


@pytest.fixture
def directory(database_url: str) -> Iterator[Directory]:
    with Directory.open(database_url) as opened:
        yield opened


def sync(
    sandbox: Sandbox,
    directory: Directory,
    integration: str,
    spec_: OktaIntegrationSpec,
    events: EventBatch | None = None,
) -> SyncReport:
    request = SyncRequest(
        integration=integration,
        spec=spec_,
        token=sandbox.token,
        okta_url=sandbox.url,
        events=events,
    )
    return asyncio.run(run_sync(request, directory, Settings(), client_factory=quick_client))


def stale_tallies(directory: Directory, integration: str) -> None:
    """What a directory of the release before the tallies holds: the next sync reads it whole."""
    with directory.engine.begin() as connection:
        connection.execute(
            sa.update(schema.integrations)
            .where(schema.integrations.c.integration == integration)
            .values(tallies_hash=None)
        )


def rows(directory: Directory, table: sa.Table, integration: str) -> set[tuple[Any, ...]]:
    drop = {"integration", "last_synced_at", "first_synced_at", "deactivated_at"}
    columns = [c for c in table.c if c.name not in drop]
    with directory.engine.connect() as connection:
        found = connection.execute(sa.select(*columns).where(table.c.integration == integration))
        return {tuple(repr(v) for v in row) for row in found}


def assert_alike(directory: Directory, part: SyncReport, whole: SyncReport) -> None:
    """The sync planned from its part reported and wrote what the one from the whole did."""
    assert report_of(part) == report_of(whole)
    for table in TABLES:
        assert rows(directory, table, PART) == rows(directory, table, WHOLE), table.name


def report_of(report: SyncReport) -> tuple[Any, ...]:
    plan = report.plan
    return (
        report.mode,
        report.stats.matched,
        report.stats.created,
        report.stats.updated,
        report.stats.deactivated,
        report.stats.reactivated,
        report.stats.unchanged,
        plan.data_quality,
        plan.filters,
        plan.warnings,
        plan.teams,
        report.summary,
        report.deactivation_limit,
        sorted(c.okta_id for c in plan.created),
        sorted((c.okta_id, c.fields) for c in plan.updated),
        sorted(c.okta_id for c in plan.deactivated),
    )


def change_org(okta: httpx.Client, rng: random.Random, step: int) -> None:
    """Profile edits, suspensions and returns, deactivations, a deletion, a new user and
    membership moves: a little of everything an HR admin does in an hour."""
    users = okta.get("/api/v1/users", params={"limit": 200}).json()
    groups = okta.get("/api/v1/groups", params={"filter": 'type eq "OKTA_GROUP"'}).json()
    for user in rng.sample(users, 6):
        profile = {
            "city": rng.choice(["Berlin", "Lyon", "Austin"]),
            "countryCode": rng.choice(["US", "FR", "DE", "us"]),
            "title": f"Title {step}",
        }
        okta.post(f"/api/v1/users/{user['id']}", json={"profile": profile}).raise_for_status()
    for user in rng.sample(users, 3):
        action = {"ACTIVE": "suspend", "SUSPENDED": "unsuspend"}.get(user["status"])
        if action:
            okta.post(f"/api/v1/users/{user['id']}/lifecycle/{action}").raise_for_status()
    leaver = rng.choice([u for u in users if u["status"] == "ACTIVE"])
    okta.post(f"/api/v1/users/{leaver['id']}/lifecycle/deactivate").raise_for_status()
    if step % 2:
        okta.delete(f"/api/v1/users/{leaver['id']}").raise_for_status()
    created = okta.post(
        "/api/v1/users",
        params={"activate": "true"},
        json={
            "profile": {
                "firstName": "New",
                "lastName": f"Hire {step}",
                "email": f"hire{step}@example.com",
                "login": f"hire{step}@example.com",
                "countryCode": rng.choice(["US", "FR"]),
            }
        },
    ).json()
    for _ in range(8):
        group = rng.choice(groups)["id"]
        members = okta.get(f"/api/v1/groups/{group}/users").json()
        if members and rng.random() < 0.5:
            gone = rng.choice(members)["id"]
            okta.delete(f"/api/v1/groups/{group}/users/{gone}").raise_for_status()
        else:
            joiner = rng.choice([*users, created])["id"]
            okta.put(f"/api/v1/groups/{group}/users/{joiner}").raise_for_status()
    # A small team losing every member: the rows out of scope that still hold it drop it.
    smallest = min(groups, key=lambda g: len(okta.get(f"/api/v1/groups/{g['id']}/users").json()))
    for member in okta.get(f"/api/v1/groups/{smallest['id']}/users").json():
        okta.delete(f"/api/v1/groups/{smallest['id']}/users/{member['id']}").raise_for_status()


@pytest.mark.parametrize("which", sorted(SPECS))
def test_the_changed_part_plans_what_the_whole_state_plans(
    sandbox_factory: Callable[..., Sandbox],
    directory: Directory,
    which: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    spec_ = SPECS[which]
    sandbox = sandbox_factory(users=300, groups=24, seed=5)
    for integration in (PART, WHOLE):
        assert sync(sandbox, directory, integration, spec_).mode == "Full"
    rng = random.Random(which)
    with httpx.Client(
        base_url=sandbox.url, headers={"Authorization": f"SSWS {sandbox.token}"}
    ) as okta:
        for step in range(3):
            change_org(okta, rng, step)
            caplog.clear()
            with caplog.at_level(logging.DEBUG, logger="okta_hris.sync.engine"):
                part = sync(sandbox, directory, PART, spec_)
            read = [int(m.group(1)) for r in caplog.records if (m := READ.search(r.getMessage()))]
            stale_tallies(directory, WHOLE)
            whole = sync(sandbox, directory, WHOLE, spec_)
            assert part.mode == whole.mode == "Incremental"
            # A few dozen users of 300: the changed ones and the holders of a team going unused.
            assert len(read) == 1 and 0 < read[0] < 150, read
            assert_alike(directory, part, whole)


def test_a_team_going_unused_leaves_the_rows_out_of_scope_that_held_it(
    sandbox: Sandbox, directory: Directory
) -> None:
    """Its last in-scope members leave the team; a member who left scope earlier (row frozen,
    teams kept) is untouched by this sync, yet their row must drop the team: the rows holding
    a team that may go unused are read too."""
    spec_ = SPECS["countries"]
    with httpx.Client(
        base_url=sandbox.url, headers={"Authorization": f"SSWS {sandbox.token}"}
    ) as okta:
        groups = okta.get("/api/v1/groups", params={"filter": 'type eq "OKTA_GROUP"'}).json()
        team = next(
            g for g in groups if len(okta.get(f"/api/v1/groups/{g['id']}/users").json()) >= 3
        )
        members = [u["id"] for u in okta.get(f"/api/v1/groups/{team['id']}/users").json()]
        frozen, *others = members
        for user_id in members:  # all in scope, to begin with
            okta.post(f"/api/v1/users/{user_id}", json={"profile": {"countryCode": "US"}})
        for integration in (PART, WHOLE):
            sync(sandbox, directory, integration, spec_)
        okta.post(f"/api/v1/users/{frozen}", json={"profile": {"countryCode": "FR"}})
        for integration in (PART, WHOLE):
            stale_tallies(directory, WHOLE)
            sync(sandbox, directory, integration, spec_)
        [row] = [r for r in directory.list_employees(integration=PART) if r.okta_id == frozen]
        assert not row.active and team["profile"]["name"] in row.teams
        # The next sync's window starts after that change (not a margin before), so nothing
        # about the frozen user is read again from Okta.
        with directory.engine.begin() as connection:
            connection.execute(
                sa.update(schema.integrations)
                .where(schema.integrations.c.integration.in_([PART, WHOLE]))
                .values(watermark=datetime.now(UTC))
            )
        time.sleep(0.01)
        for user_id in others:
            okta.delete(f"/api/v1/groups/{team['id']}/users/{user_id}").raise_for_status()
        part = sync(sandbox, directory, PART, spec_)
        stale_tallies(directory, WHOLE)
        whole = sync(sandbox, directory, WHOLE, spec_)
    assert report_of(part) == report_of(whole)
    [row] = [r for r in directory.list_employees(integration=PART) if r.okta_id == frozen]
    assert team["profile"]["name"] not in row.teams
    for table in (schema.employees, schema.employee_teams, schema.teams):
        assert rows(directory, table, PART) == rows(directory, table, WHOLE), table.name


def test_a_directory_without_tallies_is_read_whole_once_then_in_part(
    sandbox: Sandbox, directory: Directory, caplog: pytest.LogCaptureFixture
) -> None:
    """After the upgrade (no tallies yet, migration 0005) the first sync reads the whole
    directory and writes them; the next reads only what changed."""
    spec_ = SPECS["all"]
    sync(sandbox, directory, PART, spec_)
    stale_tallies(directory, PART)
    for expected in ([], [0]):
        caplog.clear()
        with caplog.at_level(logging.DEBUG, logger="okta_hris.sync.engine"):
            assert sync(sandbox, directory, PART, spec_).mode == "Incremental"
        read = [int(m.group(1)) for r in caplog.records if (m := READ.search(r.getMessage()))]
        assert read == expected
