"""Targeted syncs (mode Event) from Okta's own System Log events, on SQLite and PostgreSQL.

The events are those the sandbox wrote for changes made through its write API, wrapped in an
Event Hook body and read back by ``parse_hook_delivery``, as the receiver does.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from okta_hris.directory.store import Directory
from okta_hris.domain.changes import DirectoryChanges, OktaUserRecord, SyncRunRecord, SyncState
from okta_hris.domain.employees import EmployeeRow
from okta_hris.domain.events import EventBatch, HookEvent, parse_hook_delivery
from okta_hris.sandbox import Sandbox
from okta_hris.sandbox.clock import format_time
from okta_hris.settings import Settings
from okta_hris.sync.engine import (
    MAX_TARGETED_USERS,
    SyncReport,
    SyncRequest,
    choose_mode,
    run_sync,
)
from tests.eventhooks.okta_bodies import delivery
from tests.support.directory import recent_runs
from tests.sync.test_engine import KEY, employees, quick_client, snapshot, spec


@pytest.fixture
def directory(database_url: str) -> Iterator[Directory]:
    with Directory.open(database_url) as opened:
        yield opened


class Org:
    """Okta's write API, and the System Log events the writes produced since last asked."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.http = httpx.Client(
            base_url=sandbox.url, headers={"Authorization": f"SSWS {sandbox.token}"}
        )
        self._seen: set[str] = {e["uuid"] for e in self._log()}

    def _log(self) -> list[dict[str, Any]]:
        until = format_time(datetime.now(UTC) + timedelta(minutes=5))
        events: list[dict[str, Any]] = []
        url: str | None = f"/api/v1/logs?limit=1000&until={until}"
        while url:
            response = self.http.get(url)
            response.raise_for_status()
            events.extend(response.json())
            url = response.links.get("next", {}).get("url")
        return events

    def new_events(self) -> list[HookEvent]:
        """The events written since the last call, as a hook delivery would carry them."""
        fresh = [e for e in self._log() if e["uuid"] not in self._seen]
        self._seen.update(e["uuid"] for e in fresh)
        return parse_hook_delivery(delivery(*fresh))

    def batch(self) -> EventBatch:
        return EventBatch.of(self.new_events())

    def write(self, method: str, path: str, **body: Any) -> dict[str, Any]:
        response = self.http.request(method, path, **body)
        response.raise_for_status()
        return response.json() if response.content else {}

    def create_user(self, name: str, groups: list[str] | None = None) -> str:
        user = self.write(
            "POST",
            "/api/v1/users",
            params={"activate": "true"},
            json={
                "profile": {
                    "firstName": name,
                    "lastName": "Newhire",
                    "email": f"{name.lower()}@example.com",
                    "login": f"{name.lower()}@example.com",
                    "countryCode": "DE",
                },
                "groupIds": groups or [],
            },
        )
        return str(user["id"])

    def team_groups(self) -> dict[str, str]:
        groups = self.write("GET", "/api/v1/groups", params={"limit": 1000})
        return {g["id"]: g["profile"]["name"] for g in groups if g["type"] == "OKTA_GROUP"}


@pytest.fixture
def org(sandbox: Sandbox) -> Iterator[Org]:
    org = Org(sandbox)
    yield org
    org.http.close()


def sync(
    sandbox: Sandbox, directory: Directory, events: EventBatch | None = None, **spec_overrides: Any
) -> SyncReport:
    request = SyncRequest(
        integration=KEY,
        spec=spec(**spec_overrides),
        token=sandbox.token,
        okta_url=sandbox.url,
        events=events,
    )
    return asyncio.run(run_sync(request, directory, Settings(), client_factory=quick_client))


def watermark(directory: Directory) -> tuple[datetime | None, datetime | None]:
    state = directory.load_state(KEY).sync_state
    return state.watermark, state.last_full_sync_at


def test_each_kind_of_change_reaches_the_directory_in_one_event_sync(
    sandbox: Sandbox, directory: Directory, org: Org
) -> None:
    sync(sandbox, directory)
    before = watermark(directory)
    teams = org.team_groups()
    team_id = sorted(teams)[0]
    rows = employees(directory, active=True)
    changed, leaver, deleted, mover = sorted(rows)[:4]
    newcomer = org.create_user("Zoë", [team_id])
    org.write("POST", f"/api/v1/users/{changed}", json={"profile": {"city": "Reykjavík"}})
    org.write("POST", f"/api/v1/users/{leaver}/lifecycle/deactivate")
    org.write("POST", f"/api/v1/users/{deleted}/lifecycle/deactivate")
    org.write("DELETE", f"/api/v1/users/{deleted}")
    in_team = team_id in {g["id"] for g in org.write("GET", f"/api/v1/users/{mover}/groups")}
    org.write("DELETE" if in_team else "PUT", f"/api/v1/groups/{team_id}/users/{mover}")
    batch = org.batch()
    assert {newcomer, changed, leaver, deleted, mover} <= batch.user_ids

    sandbox.requests.clear()
    report = sync(sandbox, directory, batch)

    assert report.mode == "Event"
    after = employees(directory)
    assert after[newcomer].active and teams[team_id] in after[newcomer].teams
    assert after[newcomer].display_name == "Zoë Newhire"
    assert after[changed].city == "Reykjavík"
    assert not after[leaver].active and after[leaver].okta_status == "DEPROVISIONED"
    assert not after[deleted].active and after[deleted].okta_status == "DELETED"
    assert (teams[team_id] in after[mover].teams) is not in_team
    assert (report.stats.created, report.stats.deactivated) == (1, 2)
    assert recent_runs(directory, KEY, limit=1)[0].mode == "Event"
    # Only the named users and the one team were read: no listing of every user.
    paths = [r.path for r in sandbox.requests]
    assert all(p.startswith(("/api/v1/users/", "/api/v1/groups")) for p in paths)
    assert f"/api/v1/groups/{team_id}/users" in paths
    assert "/api/v1/users" not in paths and paths.count("/api/v1/groups") == 1
    assert len([p for p in paths if p.startswith("/api/v1/users/")]) == len(batch.user_ids)
    # The safety net re-reads everything since the watermark, which did not move.
    assert watermark(directory) == before
    assert sync(sandbox, directory).mode == "Incremental"


def test_a_renamed_or_deleted_team_follows_its_event(
    sandbox: Sandbox, directory: Directory, org: Org
) -> None:
    sync(sandbox, directory)
    teams = org.team_groups()
    renamed, removed = sorted(teams)[:2]
    removed_name = teams[removed]
    org.write("PUT", f"/api/v1/groups/{renamed}", json={"profile": {"name": "Moonshots"}})
    org.write("DELETE", f"/api/v1/groups/{removed}")
    batch = org.batch()
    assert {renamed, removed} <= batch.group_ids

    report = sync(sandbox, directory, batch)

    assert report.mode == "Event"
    teams = {t.okta_group_id: t.name for t in directory.teams(KEY)}
    assert teams.get(renamed) == "Moonshots" and removed not in teams
    rows = employees(directory)
    renamed_members = {k for k, r in rows.items() if "Moonshots" in r.teams}
    assert renamed_members == directory.load_state(KEY).okta_members[renamed] & set(rows)
    assert not any(removed_name in r.teams for r in rows.values())


def test_reordered_and_repeated_events_never_regress_a_row(
    sandbox: Sandbox, directory: Directory, org: Org
) -> None:
    sync(sandbox, directory)
    user = sorted(employees(directory, active=True))[0]
    org.write("POST", f"/api/v1/users/{user}", json={"profile": {"city": "First"}})
    first = org.batch()
    org.write("POST", f"/api/v1/users/{user}", json={"profile": {"city": "Second"}})
    second = org.batch()
    sync(sandbox, directory, second)
    unchanged = snapshot(directory, skip=("integrations",))  # sync_version counts applies
    report = sync(sandbox, directory, first)  # the older event, delivered late
    assert report.mode == "Event" and report.stats.updated == 0
    assert employees(directory)[user].city == "Second"
    assert snapshot(directory, skip=("integrations",)) == unchanged
    assert sync(sandbox, directory, second.merge(first)).stats.updated == 0


def test_okta_answering_older_than_the_mirror_keeps_the_mirror(
    sandbox: Sandbox, directory: Directory, org: Org, caplog: pytest.LogCaptureFixture
) -> None:
    """A lagging Okta replica: the fetched record is older than what the last sync saw."""
    sync(sandbox, directory)
    user = sorted(employees(directory, active=True))[0]
    state = directory.load_state(KEY)
    mirror = state.okta_users[user]
    newer = OktaUserRecord(
        id=user,
        status=mirror.status,
        last_updated=datetime.now(UTC) + timedelta(days=1),
        profile={**mirror.profile, "city": "Newer"},
    )
    # What the last sync wrote had it seen the newer record: the mirror and the row with it.
    row = dataclasses.replace(
        state.employees[user], city="Newer", okta_last_updated=newer.last_updated
    )
    directory.apply(
        DirectoryChanges(
            KEY,
            datetime.now(UTC),
            employees_update=(row,),
            okta_users_upsert=(newer,),
            sync_state=state.sync_state,
        ),
        _run(),
    )
    org.write("POST", f"/api/v1/users/{user}", json={"profile": {"city": "Older"}})
    caplog.set_level("INFO", logger="okta_hris")
    report = sync(sandbox, directory, org.batch())
    assert report.mode == "Event"
    assert employees(directory)[user].city == "Newer"
    assert "kept the newer record of 1 users" in caplog.text


def _run() -> SyncRunRecord:
    now = datetime.now(UTC)
    return SyncRunRecord(KEY, "Incremental", now, now, "succeeded")


def test_an_outsiders_event_changes_no_employee(
    sandbox: Sandbox, directory: Directory, org: Org
) -> None:
    filtered = {"sync": {"scope": "Filtered"}, "filters": {"countries": {"include": ["US"]}}}
    sync(sandbox, directory, **filtered)
    before = {k: dataclasses.asdict(r) for k, r in employees(directory).items()}
    outsider = org.create_user("Outis")  # countryCode DE: not in scope
    org.write("POST", f"/api/v1/users/{outsider}", json={"profile": {"city": "Ithaca"}})
    unknown = EventBatch(frozenset({"00uNoSuchUser0000000"}), frozenset(), 1, None)
    report = sync(sandbox, directory, org.batch().merge(unknown), **filtered)
    assert report.mode == "Event"
    assert (report.stats.created, report.stats.updated, report.stats.deactivated) == (0, 0, 0)
    assert {k: dataclasses.asdict(r) for k, r in employees(directory).items()} == before
    assert outsider not in employees(directory)


def test_events_before_any_sync_or_after_a_spec_change_run_a_full_sync(
    sandbox: Sandbox, directory: Directory, org: Org
) -> None:
    newcomer = org.create_user("Early")
    assert sync(sandbox, directory, org.batch()).mode == "Full"
    assert newcomer in employees(directory)
    org.write("POST", f"/api/v1/users/{newcomer}", json={"profile": {"city": "Later"}})
    report = sync(sandbox, directory, org.batch(), sync={"emailSource": "Personal"})
    assert report.mode == "Full"
    assert employees(directory)[newcomer].city == "Later"


def test_a_bulk_change_runs_incremental() -> None:
    many = EventBatch(
        frozenset(f"00u{n}" for n in range(MAX_TARGETED_USERS + 1)), frozenset(), 1, None
    )
    now = datetime.now(UTC)
    state = SyncState("h", now, now)
    assert choose_mode(state, "h", False, now, many) == "Incremental"
    assert choose_mode(state, "h", False, now, EventBatch()) == "Event"


def test_dropped_events_are_healed_by_the_next_incremental_sync(
    sandbox: Sandbox, directory: Directory, org: Org
) -> None:
    """30% of the events never arrive; the periodic sync still finds every change."""
    sync(sandbox, directory)
    rng = random.Random(14)
    teams = sorted(org.team_groups())
    users = sorted(employees(directory, active=True))[:40]
    for n, user in enumerate(users):
        kind = n % 4
        if kind == 0:
            org.write("POST", f"/api/v1/users/{user}", json={"profile": {"city": f"City {n}"}})
        elif kind == 1:
            org.write("POST", f"/api/v1/users/{user}/lifecycle/deactivate")
        else:
            team = rng.choice(teams)
            member = team in {g["id"] for g in org.write("GET", f"/api/v1/users/{user}/groups")}
            org.write("DELETE" if member else "PUT", f"/api/v1/groups/{team}/users/{user}")
    events = org.new_events()
    delivered = [e for e in events if rng.random() >= 0.3]
    assert len(delivered) < len(events)
    assert sync(sandbox, directory, EventBatch.of(delivered)).mode == "Event"

    assert sync(sandbox, directory).mode == "Incremental"
    healed = employees(directory)
    expected_directory = Directory.open("sqlite://")
    with expected_directory:
        sync(sandbox, expected_directory)
        truth = employees(expected_directory)
    ignore = {"first_synced_at", "last_synced_at", "deactivated_at"}
    assert {k: _without(r, ignore) for k, r in healed.items()} == {
        k: _without(r, ignore) for k, r in truth.items()
    }


def _without(row: EmployeeRow, names: set[str]) -> dict[str, object]:
    return {k: v for k, v in dataclasses.asdict(row).items() if k not in names}
