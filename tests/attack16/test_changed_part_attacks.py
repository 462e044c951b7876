"""Red-team: histories in which an incremental sync planned from the changed part of the
directory (stored tallies, ``RestOfOrg``) differs from the same sync planned from the whole
state. Two integrations of one sandbox org, as in tests/sync/test_incremental_changed_part.py:
PART plans from the changed part, WHOLE has its tallies marked stale before each sync."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from okta_hris.directory import schema
from okta_hris.directory.store import Directory
from okta_hris.domain.events import EventBatch
from okta_hris.errors import DeactivationThresholdExceeded
from okta_hris.resource.spec import OktaIntegrationSpec
from okta_hris.sandbox import Fault, Sandbox
from okta_hris.settings import Settings
from okta_hris.sync.engine import SyncRequest, run_sync
from okta_hris.sync.mapping import MAX_READ
from tests.sync.test_engine import quick_client, spec
from tests.sync.test_incremental_changed_part import (
    PART,
    TABLES,
    WHOLE,
    report_of,
    rows,
    stale_tallies,
    sync,
)


@pytest.fixture
def directory(database_url: str) -> Iterator[Directory]:
    with Directory.open(database_url) as opened:
        yield opened


def okta_client(sandbox: Sandbox) -> httpx.Client:
    return httpx.Client(base_url=sandbox.url, headers={"Authorization": f"SSWS {sandbox.token}"})


def full_both(sandbox: Sandbox, directory: Directory, spec_: OktaIntegrationSpec) -> None:
    for integration in (PART, WHOLE):
        assert sync(sandbox, directory, integration, spec_).mode == "Full"


def incremental_both(
    sandbox: Sandbox, directory: Directory, spec_: OktaIntegrationSpec, **request: Any
) -> tuple[Any, Any]:
    part = sync(sandbox, directory, PART, spec_)
    stale_tallies(directory, WHOLE)
    whole = sync(sandbox, directory, WHOLE, spec_)
    assert part.mode == whole.mode == "Incremental"
    return part, whole


def assert_same(directory: Directory, part: Any, whole: Any) -> None:
    assert report_of(part) == report_of(whole)
    for table in TABLES:
        assert rows(directory, table, PART) == rows(directory, table, WHOLE), table.name


def active_users(okta: httpx.Client) -> list[dict[str, Any]]:
    users = okta.get("/api/v1/users", params={"limit": 200}).json()
    return [u for u in users if u["status"] == "ACTIVE" and not u["id"].startswith("00uadmin")]


def backdate(sandbox: Sandbox, user_id: str) -> None:
    """As if the user's last change were long ago: the incremental listing (two minutes of
    margin before the watermark) no longer returns them, so the sync does not touch them."""
    record = sandbox._org.users[user_id]
    record.last_updated = "2020-01-01T00:00:00.000Z"
    record.cache = None


def touch_someone(okta: httpx.Client, user: dict[str, Any], step: int) -> None:
    okta.post(
        f"/api/v1/users/{user['id']}", json={"profile": {"title": f"Touched {step}"}}
    ).raise_for_status()


def test_an_employment_value_behind_a_long_run_of_nuls_is_counted_alike(
    sandbox_factory: Callable[..., Sandbox], directory: Directory
) -> None:
    """A hostile userType (the employment attribute): MAX_READ NULs, then a value. Read as Okta sent it (the sync
    in which the user changed), ``_line`` cuts it to MAX_READ characters first, and the NULs
    alone are no value: the stored tally says "no employment". The mirror stores it through
    ``storable_json``, which removes the NULs: the value is left. The next incremental sync
    from the whole state reads the mirror and finds the value (the exclude filter now drops
    the user); the changed part trusts the tally (the user stays in scope)."""
    spec_ = spec(sync={"scope": "Filtered"}, filters={"employment": {"exclude": ["Zebra Keeper"]}})
    sandbox = sandbox_factory(users=120, groups=8, seed=11)
    with okta_client(sandbox) as okta:
        users = active_users(okta)
        hostile, other = users[0], users[1]
        okta.post(
            f"/api/v1/users/{hostile['id']}",
            json={"profile": {"userType": "\x00" * MAX_READ + "Zebra Keeper"}},
        ).raise_for_status()
        backdate(sandbox, hostile["id"])
        full_both(sandbox, directory, spec_)
        touch_someone(okta, other, 1)
        part, whole = incremental_both(sandbox, directory, spec_)
        assert part.stats.fetched == 1, "only the touched user is listed"
    assert_same(directory, part, whole)


def test_an_employment_attribute_whose_name_holds_a_nul_is_counted_alike(
    sandbox_factory: Callable[..., Sandbox], directory: Directory
) -> None:
    """The same root cause without any long value: a custom attribute "user\\0Type" is not
    the employment attribute as Okta sends it (the tally: no value), but ``storable_json``
    removes the NUL from the key, so the mirror holds "userType": "Zebra Keeper" and the
    whole state finds the value (the exclude filter drops the user) where the changed part
    trusts the tally."""
    spec_ = spec(sync={"scope": "Filtered"}, filters={"employment": {"exclude": ["Zebra Keeper"]}})
    sandbox = sandbox_factory(users=120, groups=8, seed=12)
    with okta_client(sandbox) as okta:
        users = active_users(okta)
        hostile, other = users[0], users[1]
        record = sandbox._org.users[hostile["id"]]
        profile = {k: v for k, v in record.profile.items() if k != "userType"}
        record.profile = {**profile, "user\x00Type": "Zebra Keeper"}
        backdate(sandbox, hostile["id"])
        full_both(sandbox, directory, spec_)
        touch_someone(okta, other, 1)
        part, whole = incremental_both(sandbox, directory, spec_)
        assert part.stats.fetched == 1, "only the touched user is listed"
    assert_same(directory, part, whole)


# -- histories that agree (pinned) ------------------------------------------------------------


def run(sandbox: Sandbox, directory: Directory, integration: str, spec_: Any, **extra: Any):
    request = SyncRequest(
        integration=integration, spec=spec_, token=sandbox.token, okta_url=sandbox.url, **extra
    )
    return asyncio.run(run_sync(request, directory, Settings(), client_factory=quick_client))


def both(sandbox: Sandbox, directory: Directory, spec_: Any, **extra: Any) -> tuple[Any, Any]:
    part = run(sandbox, directory, PART, spec_, **extra)
    stale_tallies(directory, WHOLE)
    whole = run(sandbox, directory, WHOLE, spec_, **extra)
    return part, whole


def held_both(sandbox: Sandbox, directory: Directory, spec_: Any) -> tuple[Any, Any]:
    holds = []
    for integration in (PART, WHOLE):
        if integration == WHOLE:
            stale_tallies(directory, WHOLE)
        with pytest.raises(DeactivationThresholdExceeded) as raised:
            run(sandbox, directory, integration, spec_)
        e = raised.value
        holds.append((e.would_deactivate, e.limit, str(e)))
    return holds[0], holds[1]


def test_pinned_a_held_sync_then_approved_plans_alike(
    sandbox_factory: Callable[..., Sandbox], directory: Directory
) -> None:
    spec_ = spec(safety={"maxDeactivations": "2"})
    sandbox = sandbox_factory(users=150, groups=10, seed=21)
    full_both(sandbox, directory, spec_)
    with okta_client(sandbox) as okta:
        leavers = active_users(okta)[:4]
        for leaver in leavers:
            okta.post(f"/api/v1/users/{leaver['id']}/lifecycle/deactivate").raise_for_status()
        okta.delete(f"/api/v1/users/{leavers[0]['id']}").raise_for_status()
        part_hold, whole_hold = held_both(sandbox, directory, spec_)
        assert part_hold == whole_hold
        touch_someone(okta, active_users(okta)[0], 1)
        part, whole = both(sandbox, directory, spec_, approved_deactivations=part_hold[0])
    assert part.mode == whole.mode == "Incremental"
    assert_same(directory, part, whole)


def test_pinned_event_syncs_interleaved_with_incremental_ones_plan_alike(
    sandbox_factory: Callable[..., Sandbox], directory: Directory
) -> None:
    spec_ = spec(sync={"scope": "Filtered"}, filters={"countries": {"include": ["US"]}})
    sandbox = sandbox_factory(users=150, groups=10, seed=22)
    full_both(sandbox, directory, spec_)
    with okta_client(sandbox) as okta:
        users = active_users(okta)
        groups = okta.get("/api/v1/groups", params={"filter": 'type eq "OKTA_GROUP"'}).json()
        movers = users[:6]
        for step, mover in enumerate(movers[:3]):
            okta.post(
                f"/api/v1/users/{mover['id']}",
                json={"profile": {"countryCode": ["US", "FR", "DE"][step]}},
            ).raise_for_status()
        okta.put(f"/api/v1/groups/{groups[0]['id']}/users/{movers[3]['id']}").raise_for_status()
        okta.post(f"/api/v1/users/{movers[4]['id']}/lifecycle/deactivate").raise_for_status()
        okta.delete(f"/api/v1/users/{movers[4]['id']}").raise_for_status()
        events = EventBatch(
            user_ids=frozenset(m["id"] for m in movers[:5]),
            group_ids=frozenset({groups[0]["id"]}),
            events=6,
        )
        part, whole = both(sandbox, directory, spec_, events=events)
        assert part.mode == whole.mode == "Event"
        assert_same(directory, part, whole)
        # Then more changes, some the events never named, and an incremental sync.
        okta.post(
            f"/api/v1/users/{movers[5]['id']}", json={"profile": {"countryCode": "US"}}
        ).raise_for_status()
        okta.delete(f"/api/v1/groups/{groups[1]['id']}/users/{users[7]['id']}")
        part, whole = both(sandbox, directory, spec_)
    assert part.mode == whole.mode == "Incremental"
    assert_same(directory, part, whole)


def test_pinned_invitations_for_employees_the_changed_part_creates(
    sandbox_factory: Callable[..., Sandbox], directory: Directory
) -> None:
    spec_ = spec(
        invitations={
            "enabled": True,
            "dashboardUrl": "https://dashboard.example.com",
            "from": "People Ops <people-ops@example.com>",
            "smtpSecretRef": {"name": "smtp"},
        }
    )
    sandbox = sandbox_factory(users=100, groups=6, seed=23)
    full_both(sandbox, directory, spec_)
    with okta_client(sandbox) as okta:
        for n in range(3):
            okta.post(
                "/api/v1/users",
                params={"activate": "true"},
                json={
                    "profile": {
                        "firstName": "New",
                        "lastName": f"Hire {n}",
                        "email": f"hire{n}@example.com",
                        "login": f"hire{n}@example.com",
                    }
                },
            ).raise_for_status()
        part, whole = both(sandbox, directory, spec_)
    assert part.mode == whole.mode == "Incremental"
    assert part.invitations_queued == whole.invitations_queued == 3
    assert_same(directory, part, whole)
    with directory.engine.connect() as connection:
        queued = {
            integration: sorted(
                row.okta_id
                for row in connection.execute(
                    sa.select(schema.invitations).where(
                        schema.invitations.c.integration == integration
                    )
                )
            )
            for integration in (PART, WHOLE)
        }
    assert queued[PART] == queued[WHOLE]


def test_pinned_without_the_log_deletions_and_relisted_groups_plan_alike(
    sandbox_factory: Callable[..., Sandbox], directory: Directory
) -> None:
    """System Log 403: deleted users are in no listing; relisted groups lose them."""
    spec_ = spec(sync={"scope": "Filtered"}, filters={"status": {"exclude": ["Inactive"]}})
    sandbox = sandbox_factory(users=150, groups=10, seed=24)
    full_both(sandbox, directory, spec_)
    with okta_client(sandbox) as okta:
        groups = okta.get("/api/v1/groups", params={"filter": 'type eq "OKTA_GROUP"'}).json()
        members = okta.get(f"/api/v1/groups/{groups[0]['id']}/users").json()
        member_ids = {m["id"] for m in members}
        gone = next(u["id"] for u in active_users(okta) if u["id"] in member_ids)
        okta.post(f"/api/v1/users/{gone}/lifecycle/deactivate").raise_for_status()
        okta.delete(f"/api/v1/users/{gone}").raise_for_status()
        backdate_all = [u["id"] for u in okta.get("/api/v1/users", params={"limit": 200}).json()]
        outsider = next(u for u in backdate_all if u not in {m["id"] for m in members})
        okta.put(f"/api/v1/groups/{groups[0]['id']}/users/{outsider}").raise_for_status()
        second = groups[1]["id"]
        leaver = okta.get(f"/api/v1/groups/{second}/users").json()[0]["id"]
        okta.delete(f"/api/v1/groups/{second}/users/{leaver}").raise_for_status()
        sandbox.add_fault(Fault(kind="403", path_prefix="/api/v1/logs", count=50))
        part, whole = both(sandbox, directory, spec_)
    assert part.mode == whole.mode == "Incremental"
    assert_same(directory, part, whole)


def test_pinned_team_filters_descriptions_and_outsiders_joining_plan_alike(
    sandbox_factory: Callable[..., Sandbox], directory: Directory
) -> None:
    """Teams include/exclude, a group's description edited, a member added who was never in
    scope (the mirror knows them by their filter values only), a team emptied."""
    sandbox = sandbox_factory(users=200, groups=12, seed=25)
    with okta_client(sandbox) as okta:
        groups = okta.get("/api/v1/groups", params={"filter": 'type eq "OKTA_GROUP"'}).json()
        names = [g["profile"]["name"] for g in groups]
        spec_ = spec(
            sync={"scope": "Filtered"},
            filters={"teams": {"include": names[:4], "exclude": names[3:4]}},
            safety={"maxDeactivations": "100%"},
        )
        full_both(sandbox, directory, spec_)
        members = {
            g["id"]: [m["id"] for m in okta.get(f"/api/v1/groups/{g['id']}/users").json()]
            for g in groups
        }
        inside = {u for g in groups[:3] for u in members[g["id"]]}
        outsider = next(u["id"] for u in active_users(okta) if u["id"] not in inside)
        okta.put(f"/api/v1/groups/{groups[0]['id']}/users/{outsider}").raise_for_status()
        okta.put(
            f"/api/v1/groups/{groups[1]['id']}",
            json={"profile": {"name": names[1], "description": "Edited"}},
        ).raise_for_status()
        for member in members[groups[2]["id"]]:
            okta.delete(f"/api/v1/groups/{groups[2]['id']}/users/{member}").raise_for_status()
        excluded_member = next(iter(members[groups[3]["id"]]), None)
        if excluded_member:
            okta.delete(
                f"/api/v1/groups/{groups[3]['id']}/users/{excluded_member}"
            ).raise_for_status()
        part, whole = both(sandbox, directory, spec_)
        assert part.mode == whole.mode == "Incremental"
        assert_same(directory, part, whole)
        # and once more with the log unreadable
        okta.delete(f"/api/v1/groups/{groups[0]['id']}/users/{outsider}").raise_for_status()
        sandbox.add_fault(Fault(kind="403", path_prefix="/api/v1/logs", count=50))
        part, whole = both(sandbox, directory, spec_)
    assert part.mode == whole.mode == "Incremental"
    assert_same(directory, part, whole)


def test_pinned_the_employment_attribute_appearing_and_going_plans_alike(
    sandbox_factory: Callable[..., Sandbox], directory: Directory
) -> None:
    """Nobody has costCenter (values kept, a warning); one outsider and one employee gain it;
    then both lose it again. Each flip falls back to the whole state."""
    spec_ = spec(
        sync={"scope": "Filtered"},
        filters={"countries": {"exclude": ["FR"]}},
        mapping={"employmentAttribute": "costCenter"},
    )
    sandbox = sandbox_factory(users=150, groups=8, seed=26)
    full_both(sandbox, directory, spec_)
    with okta_client(sandbox) as okta:
        users = active_users(okta)
        outsider = next(u for u in users if u["profile"].get("countryCode") == "FR")
        employee = next(u for u in users if u["profile"].get("countryCode") != "FR")
        for value in ("Contractor", None):
            for who in (outsider, employee):
                okta.post(
                    f"/api/v1/users/{who['id']}", json={"profile": {"costCenter": value}}
                ).raise_for_status()
            part, whole = both(sandbox, directory, spec_)
            assert part.mode == whole.mode == "Incremental"
            assert_same(directory, part, whole)
        # and only the outsider has it: the mirror's minimal profile must say so
        okta.post(
            f"/api/v1/users/{outsider['id']}", json={"profile": {"costCenter": "Intern"}}
        ).raise_for_status()
        part, whole = both(sandbox, directory, spec_)
        assert_same(directory, part, whole)
        backdate(sandbox, outsider["id"])
        touch_someone(okta, employee, 9)
        part, whole = both(sandbox, directory, spec_)
    assert part.mode == whole.mode == "Incremental"
    assert_same(directory, part, whole)
    assert not any(w.reason == "EmploymentAttributeMissing" for w in part.plan.warnings)


def test_a_country_code_of_one_nul_counts_as_the_same_data_quality(
    sandbox_factory: Callable[..., Sandbox], directory: Directory
) -> None:
    """countryCode "\\0" (a hostile answer): as Okta sent it, ``_given`` sees a value (NUL is
    not whitespace) that maps to no country, so the tally counts an unknown country; the
    mirror stores "" (``storable_json`` removes the NUL), which is no value: planned from the
    whole state, the untouched user counts no unknown country. The data quality differs."""
    spec_ = spec()
    sandbox = sandbox_factory(users=120, groups=8, seed=13)
    with okta_client(sandbox) as okta:
        users = active_users(okta)
        hostile, other = users[0], users[1]
        record = sandbox._org.users[hostile["id"]]
        record.profile = {**record.profile, "countryCode": "\x00"}
        backdate(sandbox, hostile["id"])
        full_both(sandbox, directory, spec_)
        touch_someone(okta, other, 1)
        part, whole = incremental_both(sandbox, directory, spec_)
        assert part.stats.fetched == 1, "only the touched user is listed"
    assert part.plan.data_quality == whole.plan.data_quality
    assert_same(directory, part, whole)


@pytest.mark.parametrize("log", ["readable", "403"])
def test_pinned_a_member_added_who_is_not_in_the_mirror_plans_alike(
    sandbox_factory: Callable[..., Sandbox], directory: Directory, log: str
) -> None:
    """A user the incremental listing does not return (lastUpdated before the watermark) and
    the mirror does not hold joins a group: read as an unknown member by both plans."""
    spec_ = spec(sync={"scope": "Filtered"}, filters={"countries": {"include": ["US"]}})
    sandbox = sandbox_factory(users=100, groups=6, seed=27)
    full_both(sandbox, directory, spec_)
    with okta_client(sandbox) as okta:
        created = okta.post(
            "/api/v1/users",
            params={"activate": "true"},
            json={
                "profile": {
                    "firstName": "Late",
                    "lastName": "Comer",
                    "email": "late@example.com",
                    "login": "late@example.com",
                    "countryCode": "US",
                }
            },
        ).json()
        backdate(sandbox, created["id"])
        group = okta.get("/api/v1/groups", params={"filter": 'type eq "OKTA_GROUP"'}).json()[0]
        okta.put(f"/api/v1/groups/{group['id']}/users/{created['id']}").raise_for_status()
        if log == "403":
            sandbox.add_fault(Fault(kind="403", path_prefix="/api/v1/logs", count=50))
        part, whole = both(sandbox, directory, spec_)
    assert part.mode == whole.mode == "Incremental"
    assert created["id"] in {c.okta_id for c in whole.plan.created}
    assert_same(directory, part, whole)
