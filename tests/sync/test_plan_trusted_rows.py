"""An incremental sync leaves the rows of users nothing moved under as they are, without mapping
them again (``compute_plan(trust_rows=True)``), and a full sync maps users while it still lists
members (``premapped``): either must plan exactly what mapping everyone afterwards plans. So
must an incremental sync that reads only the changed users' part of the directory and counts
the rest from the stored tallies (``read_changed_part``, ``compute_plan(rest=...)``).

Three real directories follow one random history of an org (profile edits, status changes,
membership moves, renames, the employment attribute appearing and going): one planned with
every user mapped, one trusting rows, one from the changed part. After every step the plans
and the directories are the same.
"""

from __future__ import annotations

import dataclasses
import threading
from datetime import datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from okta_hris.directory import Directory
from okta_hris.domain.changes import DirectoryState, OktaGroupRecord, OktaUserRecord
from okta_hris.resource.spec import OktaIntegrationSpec
from okta_hris.sync.engine import read_changed_part
from okta_hris.sync.plan import (
    OktaSnapshot,
    SyncPlan,
    WholeStateNeeded,
    compute_plan,
    group_names,
    is_minimal,
    premap,
)

from .helpers import T0, group, make_spec, user

KEY = "people-ops/acme"
USERS = [f"00u{i}" for i in range(5)]
GROUPS = ["00g1", "00g2", "00g3"]
SPECS = [
    make_spec(),
    make_spec(sync={"scope": "Filtered"}, filters={"countries": {"include": ["US"]}}),
    make_spec(sync={"scope": "Filtered"}, filters={"teams": {"include": ["Engineering"]}}),
    make_spec(
        sync={"scope": "Filtered"},
        filters={"employment": {"exclude": ["contractor"]}},
        mapping={"employmentAttribute": "employeeType"},
    ),
    make_spec(mapping={"employmentAttribute": "employeeType"}),
]

profiles = st.fixed_dictionaries(
    {},
    optional={
        "countryCode": st.sampled_from(["US", "FR", "us", "XX", ""]),
        "employeeType": st.sampled_from(["Full-time", "contractor", "Contractor "]),
        "mobilePhone": st.sampled_from(["+1 415 555 0100", "555", "+33 6 12 34 56 78"]),
        "city": st.sampled_from(["Berlin", " Paris "]),
        "title": st.sampled_from(["Engineer", "Lead"]),
    },
)
# One user's record at a step: None keeps the last one (nothing moved in Okta), else a new
# (status, profile), or deleted from Okta.
user_steps = st.one_of(
    st.none(),
    st.just("deleted"),
    st.tuples(st.sampled_from(["ACTIVE", "SUSPENDED", "DEPROVISIONED", "STAGED"]), profiles),
)
steps = st.fixed_dictionaries(
    {
        "users": st.lists(user_steps, min_size=len(USERS), max_size=len(USERS)),
        "members": st.one_of(
            st.none(),
            st.lists(st.sets(st.sampled_from(USERS)), min_size=len(GROUPS), max_size=len(GROUPS)),
        ),
        "rename": st.booleans(),
    }
)


class History:
    """The org as Okta holds it, step by step."""

    def __init__(self) -> None:
        self.users: dict[str, OktaUserRecord] = {}
        self.names = {"00g1": "Engineering", "00g2": "Sales", "00g3": "Support"}
        self.members: dict[str, frozenset[str]] = {g: frozenset() for g in GROUPS}
        self.step = 0

    def advance(self, change: dict[str, Any]) -> None:
        self.step += 1
        for uid, what in zip(USERS, change["users"], strict=True):
            if what is None and uid in self.users:
                continue
            if what == "deleted":
                self.users.pop(uid, None)
                continue
            status, profile = what if isinstance(what, tuple) else ("ACTIVE", {})
            record = user(uid, status, **profile)
            self.users[uid] = record.replace(last_updated=T0 + timedelta(hours=self.step))
        if change["members"] is not None:
            self.members = {g: frozenset(m) for g, m in zip(GROUPS, change["members"], strict=True)}
        if change["rename"]:
            self.names["00g2"] = "Sales" if self.names["00g2"] != "Sales" else "Revenue"

    def groups(self) -> dict[str, OktaGroupRecord]:
        return {gid: group(gid, name) for gid, name in self.names.items()}


def incremental_snapshot(history: History, mirror: dict[str, OktaUserRecord]) -> OktaSnapshot:
    """What an incremental sync hands the planner: the mirror's record of every user Okta's
    listing did not return (unchanged), whole where one was read whole."""
    users = {}
    for uid, record in history.users.items():
        kept = mirror.get(uid)
        if kept is not None and kept == record.replace(profile=kept.profile):
            users[uid] = record if is_minimal(kept) else kept
        else:
            users[uid] = record
    return OktaSnapshot(
        users=users,
        groups=history.groups(),
        members={g: m & users.keys() for g, m in history.members.items()},
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    spec_index=st.integers(0, len(SPECS) - 1),
    history_steps=st.lists(steps, min_size=2, max_size=6),
)
def test_trusting_rows_plans_what_mapping_everyone_plans(
    spec_index: int, history_steps: list[dict[str, Any]]
) -> None:
    replay(spec_index, history_steps)


def replay(spec_index: int, history_steps: list[dict[str, Any]]) -> None:
    spec = SPECS[spec_index]
    history = History()
    with (
        Directory.open("sqlite://") as mapped,
        Directory.open("sqlite://") as trusted,
        Directory.open("sqlite://") as part,
    ):
        for index, change in enumerate(history_steps):
            history.advance(change)
            now = T0 + timedelta(days=1, hours=index)
            state = mapped.load_state(KEY)
            assert trusted.load_state(KEY) == state
            assert part.load_state(KEY) == state
            snapshot = incremental_snapshot(history, state.okta_users)
            reference = compute_plan(spec, KEY, state, snapshot, now)
            plan = compute_plan(spec, KEY, state, snapshot, now, trust_rows=index > 0)
            assert plan == reference
            mapped_first = premap(snapshot.users.values(), spec, threading.Event())
            assert compute_plan(spec, KEY, state, snapshot, now, premapped=mapped_first) == plan
            from_part = plan_from_part(part, spec, state, snapshot, now) if index > 0 else None
            if from_part is not None:
                assert in_order(from_part) == in_order(reference)
            mapped.apply(reference.changes)
            trusted.apply(plan.changes)
            part.apply((from_part or reference).changes)


def plan_from_part(
    directory: Directory,
    spec: OktaIntegrationSpec,
    whole: DirectoryState,
    snapshot: OktaSnapshot,
    now: datetime,
) -> SyncPlan | None:
    """The plan an incremental sync makes from the changed users' part of the directory, or
    None where it plans from the whole state instead."""
    touched = {
        uid
        for uid in whole.okta_users.keys() | snapshot.users.keys()
        if whole.okta_users.get(uid) is not snapshot.users.get(uid)
    }
    for gid in whole.okta_members.keys() | snapshot.members.keys():
        touched |= whole.okta_members.get(gid, frozenset()) ^ snapshot.members.get(gid, frozenset())
    if group_names(whole.okta_groups) != group_names(snapshot.groups):
        return None
    found = read_changed_part(directory, KEY, directory.load_head(KEY), touched)
    assert found is not None, "the tallies of the last apply add up"
    state, rest, active = found
    assert active == sum(1 for row in whole.employees.values() if row.active)
    read = state.employees.keys() | state.okta_users.keys() | touched
    users = {uid: u for uid, u in snapshot.users.items() if uid in read}
    members = {gid: m & read for gid, m in snapshot.members.items()}
    try:
        return compute_plan(
            spec,
            KEY,
            state,
            OktaSnapshot(users=users, groups=snapshot.groups, members=members),
            now,
            trust_rows=True,
            rest=rest,
        )
    except WholeStateNeeded:
        return None


def in_order(plan: SyncPlan) -> SyncPlan:
    """The plan with its writes in one order: a plan of some users lists them in its own."""
    changes = plan.changes
    ordered = {
        f.name: tuple(sorted(value, key=repr))
        for f in dataclasses.fields(changes)
        if isinstance(value := getattr(changes, f.name), tuple)
    }
    return dataclasses.replace(plan, changes=dataclasses.replace(changes, **ordered))


def test_a_kept_employment_value_is_mapped_again_once_someone_has_the_attribute() -> None:
    """The row's value was kept while nobody had the attribute; its user is unchanged when
    another user gets it: the row is mapped again (to no value), not trusted."""
    nobody: list[Any] = [None] * (len(USERS) - 2)
    replay(
        len(SPECS) - 1,
        [
            {
                "users": [("ACTIVE", {"employeeType": "Full-time"}), ("ACTIVE", {}), *nobody],
                "members": None,
                "rename": False,
            },
            {"users": [("ACTIVE", {}), None, *nobody], "members": None, "rename": False},
            {
                "users": [None, ("ACTIVE", {"employeeType": "contractor"}), *nobody],
                "members": None,
                "rename": False,
            },
        ],
    )


def test_a_user_premapped_from_an_older_record_is_mapped_again() -> None:
    """A record replaced after it was premapped (read whole, say) is mapped from the new one."""
    spec = SPECS[0]
    old, new = user("00u1", city="Berlin"), user("00u1", city="Paris")
    premapped = premap([old], spec, threading.Event())
    snapshot = OktaSnapshot(users={"00u1": new})
    plan = compute_plan(spec, KEY, DirectoryState(), snapshot, T0, premapped=premapped)
    [row] = plan.changes.employees_create
    assert row.city == "Paris"


def test_premapping_stops_when_told() -> None:
    stop = threading.Event()
    stop.set()
    assert premap([user("00u1")], SPECS[0], stop) == {}
