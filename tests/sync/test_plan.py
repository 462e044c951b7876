"""The diff: what a sync writes given the directory's state and Okta's snapshot."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest

from okta_hris.directory import Directory
from okta_hris.domain.changes import DirectoryChanges, DirectoryState
from okta_hris.domain.okta import DELETED_STATUS
from okta_hris.errors import EmploymentAttributeMissing
from okta_hris.sync.plan import OktaSnapshot, compute_plan

from .helpers import T0, group, make_spec, user

NOW = T0 + timedelta(days=1)
LATER = NOW + timedelta(hours=1)
KEY = "people-ops/acme"


def snapshot(users: list, groups: list | None = None, members: dict | None = None) -> OktaSnapshot:
    return OktaSnapshot(
        users={u.id: u for u in users},
        groups={g.id: g for g in groups or []},
        members={k: frozenset(v) for k, v in (members or {}).items()},
    )


Apply = Callable[[DirectoryState, DirectoryChanges], DirectoryState]


@pytest.fixture
def applied() -> Iterator[Apply]:
    """What the directory holds after a plan's changes: written to a real (in-memory SQLite)
    directory and read back, so the plan is checked against ``Directory.apply`` itself."""
    with Directory.open("sqlite://") as directory:

        def apply(state: DirectoryState, changes: DirectoryChanges) -> DirectoryState:
            # Tests chain states in order: ``state`` is what the directory holds now.
            assert state.employees == directory.load_state(KEY).employees
            directory.apply(changes)
            return directory.load_state(KEY)

        yield apply


def test_first_sync_creates_every_user_in_scope() -> None:
    snap = snapshot(
        [user("00u1"), user("00u2", status="DEPROVISIONED")],
        [group("00g1", "Engineering")],
        {"00g1": ["00u1"]},
    )
    plan = compute_plan(make_spec(), KEY, DirectoryState(), snap, NOW)
    created = {r.okta_id: r for r in plan.changes.employees_create}
    assert set(created) == {"00u1", "00u2"}  # scope All includes DEPROVISIONED
    assert created["00u1"].active and created["00u1"].deactivated_at is None
    assert not created["00u2"].active and created["00u2"].deactivated_at == NOW
    assert created["00u1"].teams == ("Engineering",)
    assert created["00u1"].first_synced_at == NOW
    assert plan.changes.memberships_add == (("00u1", "00g1"),)
    assert [t.name for t in plan.changes.teams_upsert] == ["Engineering"]
    assert plan.matched == 2 and len(plan.created) == 2


def test_second_identical_sync_writes_nothing(applied: Apply) -> None:
    snap = snapshot([user("00u1")], [group("00g1", "Engineering")], {"00g1": ["00u1"]})
    first = compute_plan(make_spec(), KEY, DirectoryState(), snap, NOW)
    state = applied(DirectoryState(), first.changes)
    second = compute_plan(make_spec(), KEY, state, snap, LATER)
    c = second.changes
    assert not (c.employees_create or c.employees_update or c.teams_upsert or c.teams_delete)
    assert not (c.memberships_add or c.memberships_remove)
    assert not (c.okta_users_upsert or c.okta_groups_upsert or c.okta_members_add)
    assert second.unchanged == 1 and not second.changed


def test_only_okta_last_updated_moving_does_not_rewrite(applied: Apply) -> None:
    state = applied(
        DirectoryState(),
        compute_plan(make_spec(), KEY, DirectoryState(), snapshot([user("00u1")]), NOW).changes,
    )
    moved = user("00u1").replace(
        last_updated=LATER, profile={**user("00u1").profile, "costCenter": "CC-1"}
    )
    plan = compute_plan(make_spec(), KEY, state, snapshot([moved]), LATER)
    assert plan.changes.employees_update == ()
    assert plan.changes.okta_users_upsert == (moved,)  # the mirror still follows Okta


def test_profile_change_updates_and_keeps_first_synced_at(applied: Apply) -> None:
    state = applied(
        DirectoryState(),
        compute_plan(make_spec(), KEY, DirectoryState(), snapshot([user("00u1")]), NOW).changes,
    )
    plan = compute_plan(make_spec(), KEY, state, snapshot([user("00u1", city="Berlin")]), LATER)
    [row] = plan.changes.employees_update
    assert row.city == "Berlin"
    assert row.first_synced_at == NOW and row.last_synced_at == LATER
    assert plan.updated[0].fields == ("city",)


def test_leaving_scope_deactivates_and_returning_reactivates(applied: Apply) -> None:
    spec = make_spec(sync={"scope": "Filtered"}, filters={"countries": {"include": ["US"]}})
    state = applied(
        DirectoryState(),
        compute_plan(
            spec, KEY, DirectoryState(), snapshot([user("00u1", countryCode="US")]), NOW
        ).changes,
    )
    left = compute_plan(spec, KEY, state, snapshot([user("00u1", countryCode="FR")]), LATER)
    [row] = left.changes.employees_update
    assert not row.active and row.deactivated_at == LATER
    assert row.country_code == "US"  # details of people out of scope are no longer synced
    assert len(left.deactivated) == 1
    state = applied(state, left.changes)
    back_at = LATER + timedelta(hours=1)
    back = compute_plan(spec, KEY, state, snapshot([user("00u1", countryCode="US")]), back_at)
    [row] = back.changes.employees_update
    assert row.active and row.deactivated_at is None and row.first_synced_at == NOW
    assert len(back.reactivated) == 1


def test_okta_deactivation_and_deletion(applied: Apply) -> None:
    snap = snapshot([user("00u1"), user("00u2")])
    state = applied(
        DirectoryState(), compute_plan(make_spec(), KEY, DirectoryState(), snap, NOW).changes
    )
    plan = compute_plan(
        make_spec(), KEY, state, snapshot([user("00u1", status="DEPROVISIONED")]), LATER
    )
    rows = {r.okta_id: r for r in plan.changes.employees_update}
    assert rows["00u1"].okta_status == "DEPROVISIONED" and not rows["00u1"].active
    assert rows["00u2"].okta_status == DELETED_STATUS and not rows["00u2"].active
    assert rows["00u2"].deactivated_at == LATER
    assert plan.changes.okta_users_delete == ("00u2",)
    assert len(plan.deactivated) == 2
    # The deleted user's row is never deleted, and a second run leaves it alone.
    again = compute_plan(
        make_spec(),
        KEY,
        applied(state, plan.changes),
        snapshot([user("00u1", status="DEPROVISIONED")]),
        LATER,
    )
    assert again.changes.employees_update == () and again.unchanged == 2


def test_membership_and_team_changes(applied: Apply) -> None:
    groups = [group("00g1", "Engineering"), group("00g2", "Sales")]
    snap = snapshot([user("00u1")], groups, {"00g1": ["00u1"]})
    state = applied(
        DirectoryState(), compute_plan(make_spec(), KEY, DirectoryState(), snap, NOW).changes
    )
    moved = snapshot([user("00u1")], [groups[1]], {"00g2": ["00u1"]})  # Engineering deleted
    plan = compute_plan(make_spec(), KEY, state, moved, LATER)
    assert plan.changes.memberships_add == (("00u1", "00g2"),)
    assert plan.changes.memberships_remove == (("00u1", "00g1"),)
    assert plan.changes.teams_delete == ("00g1",)
    assert plan.changes.okta_groups_delete == ("00g1",)
    [row] = plan.changes.employees_update
    assert row.teams == ("Sales",)


def test_teams_filter_uses_group_membership() -> None:
    spec = make_spec(
        sync={"scope": "Filtered"},
        filters={"teams": {"include": ["Engineering"], "exclude": ["Interns"]}},
    )
    groups = [group("00g1", "Engineering"), group("00g2", "Interns")]
    snap = snapshot(
        [user("00u1"), user("00u2"), user("00u3")],
        groups,
        {"00g1": ["00u1", "00u2"], "00g2": ["00u2"]},
    )
    plan = compute_plan(spec, KEY, DirectoryState(), snap, NOW)
    assert [r.okta_id for r in plan.changes.employees_create] == ["00u1"]
    assert plan.matched == 1


def test_rows_out_of_scope_keep_teams_in_step_with_the_teams_table(applied: Apply) -> None:
    spec = make_spec(sync={"scope": "Filtered"}, filters={"teams": {"include": ["Engineering"]}})
    groups = [group("00g1", "Engineering"), group("00g2", "Guild")]
    members = {"00g1": ["00u1", "00u2"], "00g2": ["00u1", "00u2"]}
    snap = snapshot([user("00u1"), user("00u2")], groups, members)
    state = applied(DirectoryState(), compute_plan(spec, KEY, DirectoryState(), snap, NOW).changes)
    # 00u1 leaves Engineering, so scope; 00u2 keeps both teams in use.
    still = {"00g1": ["00u2"], "00g2": members["00g2"]}
    left = snapshot([user("00u1"), user("00u2")], groups, still)
    state = applied(state, compute_plan(spec, KEY, state, left, LATER).changes)
    assert state.employees["00u1"].teams == ("Engineering", "Guild")  # frozen when it left
    assert state.memberships["00u1"] == ("00g1", "00g2")
    renamed = snapshot(
        [user("00u1"), user("00u2")], [groups[0], group("00g2", "Craft Guild")], still
    )
    plan = compute_plan(spec, KEY, state, renamed, LATER)
    [row] = [r for r in plan.changes.employees_update if r.okta_id == "00u1"]
    assert row.teams == ("Craft Guild", "Engineering") and not row.active
    assert [c.fields for c in plan.updated if c.okta_id == "00u1"] == [("teams",)]
    # The Guild is deleted in Okta: gone from teams, and from the frozen row.
    deleted = snapshot([user("00u1"), user("00u2")], [groups[0]], {"00g1": ["00u2"]})
    state = applied(state, plan.changes)
    [row] = [
        r
        for r in compute_plan(spec, KEY, state, deleted, LATER).changes.employees_update
        if r.okta_id == "00u1"
    ]
    assert row.teams == ("Engineering",)


def test_a_team_nobody_in_scope_is_in_leaves_the_teams_table(applied: Apply) -> None:
    # SPEC §9: only teams with an in-scope member reach ``teams``; frozen rows follow.
    spec = make_spec(sync={"scope": "Filtered"}, filters={"teams": {"include": ["Engineering"]}})
    groups = [group("00g1", "Engineering"), group("00g2", "Guild")]
    snap = snapshot([user("00u1")], groups, {"00g1": ["00u1"], "00g2": ["00u1"]})
    state = applied(DirectoryState(), compute_plan(spec, KEY, DirectoryState(), snap, NOW).changes)
    assert set(state.teams) == {"00g1", "00g2"}
    left = snapshot([user("00u1")], groups, {"00g2": ["00u1"]})
    plan = compute_plan(spec, KEY, state, left, LATER)
    assert set(plan.changes.teams_delete) == {"00g1", "00g2"} and plan.teams == 0
    state = applied(state, plan.changes)
    assert state.teams == {} and state.memberships.get("00u1", frozenset()) == frozenset()
    assert state.employees["00u1"].teams == () and not state.employees["00u1"].active


def test_an_empty_team_never_reaches_the_directory(applied: Apply) -> None:
    snap = snapshot([user("00u1")])
    state = applied(
        DirectoryState(), compute_plan(make_spec(), KEY, DirectoryState(), snap, NOW).changes
    )
    plan = compute_plan(
        make_spec(), KEY, state, snapshot([user("00u1")], [group("00g9", "Empty")]), LATER
    )
    assert not plan.changed and plan.changes.teams_upsert == () and plan.teams == 0
    assert [g.id for g in plan.changes.okta_groups_upsert] == ["00g9"]  # the mirror knows it


def test_a_misspelt_employment_attribute_under_an_employment_filter_fails_the_plan() -> None:
    spec = make_spec(
        sync={"scope": "Filtered"},
        filters={"employment": {"include": ["Full-time"]}},
        mapping={"employmentAttribute": "employeTyp"},
    )
    snap = snapshot([user("00u1", employeeType="Full-time")])
    with pytest.raises(EmploymentAttributeMissing, match=r"'employeTyp'.*would keep nobody"):
        compute_plan(spec, KEY, DirectoryState(), snap, NOW)


def test_an_employment_entry_matching_nobody_is_a_warning_with_a_did_you_mean() -> None:
    spec = make_spec(
        sync={"scope": "Filtered"},
        filters={"employment": {"include": ["Full-time", "Contracter"]}},
    )
    snap = snapshot([user("00u1", userType="Full Time"), user("00u2", userType="contractor")])
    plan = compute_plan(spec, KEY, DirectoryState(), snap, NOW)
    assert [w.message for w in plan.warnings] == [
        "spec.filters.employment.include[1]: 'Contracter' matches no Okta user's 'userType'; "
        "did you mean 'Contractor'?"
    ]
    assert plan.matched == 1


def test_the_mirror_keeps_only_the_filters_values_of_outsiders() -> None:
    """Country and employment value (SPEC §9 allows both): the employment value even without
    an employment filter, since whether anyone has the attribute at all decides whether
    employment values are kept, and an incremental sync answers that from the mirror."""
    users = [user("00u1", countryCode="US", userType="Full-time", city="Boston"),
             user("00u2", countryCode="FR", userType="Intern", city="Lyon")]  # fmt: skip
    by_country = make_spec(sync={"scope": "Filtered"}, filters={"countries": {"include": ["US"]}})
    plan = compute_plan(by_country, KEY, DirectoryState(), snapshot(users), NOW)
    outsider = next(u for u in plan.changes.okta_users_upsert if u.id == "00u2")
    assert outsider.profile == {"countryCode": "FR", "userType": "Intern", "_minimal": True}
    by_employment = make_spec(
        sync={"scope": "Filtered"}, filters={"employment": {"exclude": ["Intern"]}}
    )
    plan = compute_plan(by_employment, KEY, DirectoryState(), snapshot(users), NOW)
    outsider = next(u for u in plan.changes.okta_users_upsert if u.id == "00u2")
    assert outsider.profile == {"countryCode": "FR", "userType": "Intern", "_minimal": True}
    insider = next(u for u in plan.changes.okta_users_upsert if u.id == "00u1")
    assert insider.profile["city"] == "Boston"  # whole, for re-mapping
