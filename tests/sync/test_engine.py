"""The engine end to end: the sandbox over HTTP, a real directory on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from okta_hris.directory import schema
from okta_hris.directory.store import Directory
from okta_hris.domain.changes import OktaUserRecord
from okta_hris.domain.employees import field_values
from okta_hris.errors import (
    DeactivationThresholdExceeded,
    OktaUnauthorized,
    OktaUnavailable,
    SyncInProgress,
)
from okta_hris.okta import OktaClient
from okta_hris.resource.spec import OktaIntegrationSpec
from okta_hris.sandbox import Fault, RateLimitConfig, Sandbox
from okta_hris.settings import Settings
from okta_hris.sync.engine import SyncReport, SyncRequest, apply_plan, plan_sync, run_sync
from okta_hris.sync.mapping import map_user
from okta_hris.sync.plan import compute_plan
from tests.support.directory import recent_runs

KEY = "people-ops/acme"


def spec(**overrides: Any) -> OktaIntegrationSpec:
    body: dict[str, Any] = {"okta": {"subdomain": "acme", "tokenSecretRef": {"name": "okta"}}}
    body.update(overrides)
    return OktaIntegrationSpec.model_validate(body)


@pytest.fixture
def directory(database_url: str) -> Iterator[Directory]:
    with Directory.open(database_url) as opened:
        yield opened


@pytest.fixture
def okta(sandbox: Sandbox) -> Iterator[httpx.Client]:
    """Okta's write API, as an HR admin would use it."""
    with httpx.Client(
        base_url=sandbox.url, headers={"Authorization": f"SSWS {sandbox.token}"}
    ) as client:
        yield client


def sync(
    sandbox: Sandbox,
    directory: Directory,
    the_spec: OktaIntegrationSpec | None = None,
    **request: Any,
) -> SyncReport:
    req = SyncRequest(
        integration=request.pop("integration", KEY),
        spec=the_spec or spec(),
        token=request.pop("token", sandbox.token),
        okta_url=sandbox.url,
        **request,
    )
    return asyncio.run(run_sync(req, directory, Settings(), client_factory=quick_client))


def quick_client(base_url: str, token: str) -> OktaClient:
    """The real client with a small retry budget, so outage tests end in a second."""
    return OktaClient(base_url, token, max_retries=2, backoff_base=0.01, backoff_max=0.05)


def all_okta_users(okta: httpx.Client) -> list[dict[str, Any]]:
    users: list[dict[str, Any]] = []
    url: str | None = "/api/v1/users?search=" + " or ".join(
        f'status eq "{s}"'
        for s in (
            "STAGED",
            "PROVISIONED",
            "ACTIVE",
            "RECOVERY",
            "PASSWORD_EXPIRED",
            "LOCKED_OUT",
            "SUSPENDED",
            "DEPROVISIONED",
        )
    )
    while url:
        response = okta.get(url)
        response.raise_for_status()
        users.extend(response.json())
        url = response.links.get("next", {}).get("url")
    return users


def snapshot(
    directory: Directory, *, skip: tuple[str, ...] = ()
) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (sync_runs aside), to prove a sync changed nothing."""
    with directory.engine.connect() as conn:
        return {
            name: sorted(tuple(map(repr, row)) for row in conn.execute(sa.select(table)))
            for name, table in schema.metadata.tables.items()
            if name not in ("sync_runs", *skip)
        }


def employees(directory: Directory, **filters: Any) -> dict[str, Any]:
    return {row.okta_id: row for row in directory.list_employees(integration=KEY, **filters)}


def test_full_sync_maps_every_user_and_field(
    sandbox: Sandbox, directory: Directory, okta: httpx.Client
) -> None:
    report = sync(sandbox, directory)
    users = all_okta_users(okta)
    rows = employees(directory)
    assert report.mode == "Full"
    assert set(rows) == {u["id"] for u in users}  # scope All: DEPROVISIONED included
    assert report.stats.fetched == len(users)
    assert report.stats.created == len(users)
    groups = okta.get("/api/v1/groups", params={"limit": 10000}).json()
    team_names = {g["id"]: g["profile"]["name"] for g in groups if g["type"] == "OKTA_GROUP"}
    for user in users[:40]:
        member_of = okta.get(f"/api/v1/users/{user['id']}/groups").json()
        teams = [team_names[g["id"]] for g in member_of if g["id"] in team_names]
        record = OktaUserRecord(
            id=user["id"],
            status=user["status"],
            last_updated=datetime.fromisoformat(user["lastUpdated"]),
            profile=user["profile"],
        )
        expected = map_user(record, teams, spec())
        row = rows[user["id"]]
        for field in (f.name for f in dataclasses.fields(expected)):
            assert getattr(row, field) == getattr(expected, field), (user["id"], field)
    assert "Everyone" not in {t for row in rows.values() for t in row.teams}


def test_full_sync_lists_members_once_per_group_never_per_user(
    sandbox: Sandbox, directory: Directory
) -> None:
    sandbox.requests.clear()
    sync(sandbox, directory)
    paths = [r.path for r in sandbox.requests]
    per_user = [p for p in paths if p.startswith("/api/v1/users/")]
    assert per_user == []
    groups_listed = {p for p in paths if p.endswith("/users") and p.startswith("/api/v1/groups/")}
    assert len(groups_listed) == len(
        [p for p in paths if p.endswith("/users") and p.startswith("/api/v1/groups/")]
    )


def test_second_sync_is_incremental_and_writes_nothing(
    sandbox: Sandbox, directory: Directory
) -> None:
    sync(sandbox, directory)
    before = snapshot(directory, skip=("integrations",))  # the watermark moves on
    report = sync(sandbox, directory)
    assert report.mode == "Incremental"
    assert (report.stats.created, report.stats.updated, report.stats.deactivated) == (0, 0, 0)
    assert snapshot(directory, skip=("integrations",)) == before


def test_incremental_sync_follows_okta_changes(
    sandbox: Sandbox, directory: Directory, okta: httpx.Client
) -> None:
    sync(sandbox, directory)
    rows = employees(directory, active=True)
    changed, leaver, deleted, mover = sorted(rows)[:4]
    okta.post(
        f"/api/v1/users/{changed}", json={"profile": {"city": "Reykjavík"}}
    ).raise_for_status()
    okta.post(f"/api/v1/users/{leaver}/lifecycle/deactivate").raise_for_status()
    groups_of_deleted = {
        g["id"]
        for g in okta.get(f"/api/v1/users/{deleted}/groups").json()
        if g["type"] == "OKTA_GROUP"
    }
    okta.post(f"/api/v1/users/{deleted}/lifecycle/deactivate").raise_for_status()
    okta.delete(f"/api/v1/users/{deleted}").raise_for_status()
    new_group = okta.post(
        "/api/v1/groups", json={"profile": {"name": "Moonshots", "description": "New team"}}
    ).json()
    okta.put(f"/api/v1/groups/{new_group['id']}/users/{mover}").raise_for_status()

    sandbox.requests.clear()
    report = sync(sandbox, directory)
    assert report.mode == "Incremental"
    after = employees(directory)
    assert after[changed].city == "Reykjavík" and after[changed].active
    assert not after[leaver].active and after[leaver].okta_status == "DEPROVISIONED"
    assert after[leaver].deactivated_at is not None
    assert not after[deleted].active and after[deleted].okta_status == "DELETED"
    assert "Moonshots" in after[mover].teams
    assert report.stats.deactivated == 2
    # An incremental sync lists only the members of groups the System Log cannot vouch for:
    # the new group; the groups the deleted user left are explained by the deletion.
    assert groups_of_deleted
    member_listings = [r for r in sandbox.requests if r.path.startswith("/api/v1/groups/")]
    assert {r.path for r in member_listings} == {f"/api/v1/groups/{new_group['id']}/users"}

    # Returning: reactivated in Okta -> active again, first_synced_at kept.
    okta.post(
        f"/api/v1/users/{leaver}/lifecycle/activate", params={"sendEmail": "false"}
    ).raise_for_status()
    sync(sandbox, directory)
    back = employees(directory)[leaver]
    assert back.active and back.deactivated_at is None
    assert back.first_synced_at == after[leaver].first_synced_at


def test_removal_from_group_updates_teams(
    sandbox: Sandbox, directory: Directory, okta: httpx.Client
) -> None:
    sync(sandbox, directory)
    row = next(r for r in employees(directory, active=True).values() if r.teams)
    groups = okta.get(f"/api/v1/users/{row.okta_id}/groups").json()
    group = next(g for g in groups if g["profile"]["name"] == row.teams[0])
    okta.delete(f"/api/v1/groups/{group['id']}/users/{row.okta_id}").raise_for_status()
    sync(sandbox, directory)
    assert row.teams[0] not in employees(directory)[row.okta_id].teams


def test_filter_change_forces_full_sync_and_deactivates(
    sandbox: Sandbox, directory: Directory
) -> None:
    sync(sandbox, directory)
    filtered = spec(
        sync={"scope": "Filtered"},
        filters={"countries": {"include": ["US"]}},
        safety={"maxDeactivations": "100%"},
    )
    report = sync(sandbox, directory, filtered)
    assert report.mode == "Full"
    rows = employees(directory)
    assert report.stats.deactivated > 0
    assert all(r.country_code == "US" for r in rows.values() if r.active)
    assert sum(r.active for r in rows.values()) == report.summary.active


def test_filtered_example_scope(sandbox: Sandbox, directory: Directory) -> None:
    filtered = spec(
        sync={"scope": "Filtered"},
        filters={
            "countries": {"include": ["US", "DE"]},
            "teams": {"include": ["Engineering"], "exclude": ["Interns"]},
            "status": {"include": ["Active"]},
            "employment": {"include": ["Full-time", "Contractor"]},
        },
    )
    report = sync(sandbox, directory, filtered)
    rows = employees(directory)
    assert rows and report.stats.matched == len(rows)
    for row in rows.values():
        assert row.active
        assert row.country_code in {"US", "DE"}
        assert "Engineering" in row.teams and "Interns" not in row.teams
        assert row.employment_status.casefold() in {"full-time", "contractor"}


def test_safety_hold_applies_nothing_and_approval_releases(
    sandbox: Sandbox, directory: Directory
) -> None:
    sync(sandbox, directory)
    before = snapshot(directory)
    narrow = spec(
        sync={"scope": "Filtered"},
        filters={"countries": {"include": ["JP"]}},
        safety={"maxDeactivations": "10%"},
    )
    with pytest.raises(DeactivationThresholdExceeded) as held:
        sync(sandbox, directory, narrow)
    assert held.value.would_deactivate > held.value.limit
    assert snapshot(directory) == before
    with pytest.raises(DeactivationThresholdExceeded):
        sync(sandbox, directory, narrow, approved_deactivations=held.value.would_deactivate - 1)
    report = sync(sandbox, directory, narrow, approved_deactivations=held.value.would_deactivate)
    assert report.stats.deactivated == held.value.would_deactivate
    runs = recent_runs(directory, KEY, limit=10)
    assert [r.outcome for r in runs][:3] == ["succeeded", "held", "held"]


def test_held_run_records_why_and_a_mismatched_approval(
    sandbox: Sandbox, directory: Directory
) -> None:
    sync(sandbox, directory)
    narrow = spec(sync={"scope": "Filtered"}, filters={"countries": {"include": ["JP"]}})
    with pytest.raises(DeactivationThresholdExceeded) as held:
        sync(sandbox, directory, narrow, approved_deactivations=5)
    hold = held.value
    assert hold.approved == 5
    # The run's row says what is held, not how one runner or another approves it.
    assert recent_runs(directory, KEY, limit=1)[0].error == (
        f"held: it would deactivate {hold.would_deactivate} of {hold.directory_size} "
        f"employees, more than safety.maxDeactivations allows ({hold.limit})"
    )


def test_two_plans_of_one_state_apply_once(
    sandbox: Sandbox, directory: Directory, okta: httpx.Client
) -> None:
    """Two syncs that ran at once (no lease between them): the later apply is refused."""
    sync(sandbox, directory)
    leaver = sorted(employees(directory, active=True))[0]
    okta.post(f"/api/v1/users/{leaver}/lifecycle/suspend").raise_for_status()
    request = SyncRequest(integration=KEY, spec=spec(), token=sandbox.token, okta_url=sandbox.url)

    async def both() -> tuple[SyncReport, BaseException | SyncReport]:
        first = await plan_sync(request, directory, Settings(), client_factory=quick_client)
        second = await plan_sync(request, directory, Settings(), client_factory=quick_client)
        applied = await apply_plan(first, directory)
        try:
            return applied, await apply_plan(second, directory)
        except SyncInProgress as exc:
            return applied, exc

    applied, refused = asyncio.run(both())
    assert applied.stats.deactivated == 1
    assert isinstance(refused, SyncInProgress)
    runs = recent_runs(directory, KEY, limit=2)
    assert [r.outcome for r in runs] == ["failed", "succeeded"]
    assert runs[0].error is not None and runs[0].error.startswith("SyncInProgress: ")
    assert not employees(directory)[leaver].active


def test_okta_failure_mid_listing_leaves_directory_unchanged(
    sandbox_factory: Callable[..., Sandbox], directory: Directory
) -> None:
    sandbox = sandbox_factory(users=300, groups=10, seed=3)
    sync(sandbox, directory)
    okta = httpx.Client(base_url=sandbox.url, headers={"Authorization": f"SSWS {sandbox.token}"})
    victim = sorted(employees(directory, active=True))[0]
    okta.post(f"/api/v1/users/{victim}", json={"profile": {"city": "Atlantis"}}).raise_for_status()
    before = snapshot(directory)
    sandbox.add_fault(Fault(kind="503", path_prefix="/api/v1/groups"))  # an outage
    with pytest.raises(OktaUnavailable):
        sync(sandbox, directory, force_full=True)
    assert snapshot(directory) == before
    sandbox.clear_faults()
    sync(sandbox, directory)
    assert employees(directory)[victim].city == "Atlantis"
    assert [r.outcome for r in recent_runs(directory, KEY, limit=2)] == ["succeeded", "failed"]


def test_bad_token_is_unauthorized(sandbox: Sandbox, directory: Directory) -> None:
    with pytest.raises(OktaUnauthorized):
        sync(sandbox, directory, token="wrong")
    assert employees(directory) == {}


def test_no_429_under_normal_limits(
    sandbox_factory: Callable[..., Sandbox], sqlite_url: str
) -> None:
    sandbox = sandbox_factory(
        users=600,
        groups=15,
        seed=5,
        rate_limits=RateLimitConfig(users=4, groups=6, logs=4, window=1.0),
    )
    with Directory.open(sqlite_url) as directory:
        report = sync(sandbox, directory)
    assert report.stats.rate_limited == 0
    assert [r for r in sandbox.requests if r.status == 429] == []
    assert report.stats.fetched == 600


def test_recovers_from_injected_faults(
    sandbox_factory: Callable[..., Sandbox], sqlite_url: str
) -> None:
    sandbox = sandbox_factory(users=800, groups=12, seed=9)
    with Directory.open(sqlite_url) as directory:
        clean = sync(sandbox, directory, integration="ns/clean")
        for nth, kind in ((2, "429"), (3, "500"), (5, "drop"), (7, "503"), (9, "slow")):
            sandbox.add_fault(Fault(kind=kind, on_request=nth, delay=0.2))
        sandbox.requests.clear()
        faulty = sync(sandbox, directory, integration="ns/faulty")
        assert faulty.stats.fetched == clean.stats.fetched
        bookkeeping = {"integration", "first_synced_at", "last_synced_at", "deactivated_at"}

        def synced(integration: str) -> dict[str, dict[str, object]]:
            return {
                r.okta_id: {k: v for k, v in dataclasses.asdict(r).items() if k not in bookkeeping}
                for r in directory.list_employees(integration=integration)
            }

        a, b = synced("ns/clean"), synced("ns/faulty")
        assert a == b
        assert any(r.status >= 429 for r in sandbox.requests)


def test_planning_writes_nothing(sandbox: Sandbox, directory: Directory) -> None:
    request = SyncRequest(integration=KEY, spec=spec(), token=sandbox.token, okta_url=sandbox.url)
    planned = asyncio.run(plan_sync(request, directory, Settings(), client_factory=quick_client))
    assert len(planned.plan.created) > 0
    assert employees(directory) == {}
    assert recent_runs(directory, KEY, limit=5) == []


def test_member_listings_do_not_wait_for_the_users_listing(
    sandbox_factory: Callable[..., Sandbox], directory: Directory
) -> None:
    """The users listing and the member listings use different rate-limit buckets: a slow
    users page must not hold the member listings back (at Okta's limits it was a whole window
    of the groups bucket spent idle)."""
    sandbox = sandbox_factory(users=1000, groups=5, seed=3)  # five users pages
    sandbox.add_fault(Fault(kind="slow", on_request=2, path_prefix="/api/v1/users", delay=2.0))
    sandbox.requests.clear()
    report = sync(sandbox, directory)
    paths = [r.path for r in sandbox.requests]
    member_listings = [i for i, p in enumerate(paths) if p.startswith("/api/v1/groups/")]
    users_pages = [i for i, p in enumerate(paths) if p.startswith("/api/v1/users")]
    assert member_listings and len(users_pages) == 5
    assert max(member_listings) < users_pages[-1]
    assert report.stats.created == 1000


def test_plans_are_computed_off_the_event_loop(
    sandbox: Sandbox, directory: Directory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Seconds of CPU at 100k users: on the loop, the operator's other syncs, Kopf and the
    # liveness probe would wait for it.
    from okta_hris.sync import engine

    on_loop: list[bool] = []

    def recording(*args: Any, **kwargs: Any) -> Any:
        try:
            asyncio.get_running_loop()
            on_loop.append(True)
        except RuntimeError:
            on_loop.append(False)
        return compute_plan(*args, **kwargs)

    monkeypatch.setattr(engine, "compute_plan", recording)
    assert sync(sandbox, directory).mode == "Full"
    assert sync(sandbox, directory).mode == "Incremental"  # planned from the changed part
    assert on_loop == [False, False]


def test_a_full_sync_of_a_filled_directory_holds_what_okta_left_alone_once(
    sandbox: Sandbox, directory: Directory, okta: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A daily full sync of 100,000 users holds the loaded mirror and the fetched org: what did
    # not change must be the mirror's very objects, not a second copy of each.
    from okta_hris.sync import engine

    sync(sandbox, directory)
    seen: list[tuple[Any, Any]] = []

    def recording(*args: Any, **kwargs: Any) -> Any:
        state, premapped = args[2], kwargs["premapped"]
        seen.append((state, args[3]))  # the loaded state, the fetched snapshot
        for user_id, (_, employee) in premapped.items():  # as mapped while members were listed
            row = state.employees[user_id]
            for name, value in field_values(employee).items():
                if isinstance(value, str) and value == getattr(row, name):
                    assert value is getattr(row, name), (user_id, name)
        return compute_plan(*args, **kwargs)

    moved_user, moved_group = "", ""
    for group in okta.get("/api/v1/groups", params={"filter": 'type eq "OKTA_GROUP"'}).json():
        members = okta.get(f"/api/v1/groups/{group['id']}/users").json()
        if members:
            moved_user, moved_group = members[0]["id"], group["id"]
            break
    assert okta.delete(f"/api/v1/groups/{moved_group}/users/{moved_user}").status_code == 204
    monkeypatch.setattr(engine, "compute_plan", recording)
    assert sync(sandbox, directory, force_full=True).mode == "Full"
    [(state, fetched)] = seen
    assert fetched.members.keys() == state.okta_members.keys()
    for group_id, members in fetched.members.items():
        if group_id == moved_group:
            assert moved_user not in members and moved_user in state.okta_members[group_id]
        else:
            assert members is state.okta_members[group_id], group_id
    assert all(fetched.users[u] is record for u, record in state.okta_users.items())
