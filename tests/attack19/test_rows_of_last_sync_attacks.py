"""Red-team of ``_RowsOfLastSync.mapped`` now that team groups are sorted tuples: a user
whose team groups are the mirror's (in whatever order the groups were listed or stored) is
trusted, not mapped again; a user whose team groups changed (even to groups of the same
names, or by one group only) is mapped again, and either way the plan is the one that
mapping everyone makes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import okta_hris.sync.plan as plan_module
from okta_hris.directory import Directory
from okta_hris.sync.plan import OktaSnapshot, compute_plan
from tests.sync.helpers import T0, group, make_spec, user

KEY = "people-ops/attack19-trust"
# Same names under different ids, ids that sort differently by case and by code point.
GROUPS = {
    "00gB": "Eng",
    "00ga": "Eng",
    "00gé": "Sales",
    "00gE": "Sales",
    "00g10": "Ops",
    "00g1": "X",
}
USERS = [f"00u{n}" for n in range(8)]
SPECS = [
    make_spec(),
    make_spec(sync={"scope": "Filtered"}, filters={"teams": {"include": ["Eng"]}}),
]


def snapshot(members: dict[str, set[str]], reverse: bool = False) -> OktaSnapshot:
    order = sorted(GROUPS, reverse=reverse)
    return OktaSnapshot(
        users={uid: user(uid) for uid in USERS},
        groups={gid: group(gid, GROUPS[gid]) for gid in order},
        members={gid: frozenset(members.get(gid, ())) for gid in order},
    )


@pytest.fixture
def mapped_users(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real = plan_module.map_profile  # what the plan maps a user with, when not premapped

    def counting(okta_user, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(okta_user.id)
        return real(okta_user, *args, **kwargs)

    monkeypatch.setattr(plan_module, "map_profile", counting)
    return calls


membership = st.dictionaries(st.sampled_from(sorted(GROUPS)), st.sets(st.sampled_from(USERS)))


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(spec_index=st.integers(0, 1), first=membership, second=membership)
def test_only_users_whose_team_groups_moved_are_mapped_again(
    mapped_users: list[str],
    spec_index: int,
    first: dict[str, set[str]],
    second: dict[str, set[str]],
) -> None:
    spec = SPECS[spec_index]
    with Directory.open("sqlite://") as directory:
        directory.apply(
            compute_plan(spec, KEY, directory.load_state(KEY), snapshot(first), T0).changes
        )
        state = directory.load_state(KEY)
        # The mirror's very records (nothing moved on the users), groups listed the other way.
        now = snapshot(second, reverse=True)
        now = OktaSnapshot(users=dict(state.okta_users), groups=now.groups, members=now.members)
        mapped_users.clear()
        trusted = compute_plan(spec, KEY, state, now, T0 + timedelta(days=1), trust_rows=True)
        remapped = set(mapped_users)
        everyone = compute_plan(spec, KEY, state, now, T0 + timedelta(days=1))
        assert trusted == everyone

        def groups_of(members: dict[str, set[str]], uid: str) -> set[str]:
            return {g for g, them in members.items() if uid in them}

        moved = {uid for uid in USERS if groups_of(first, uid) != groups_of(second, uid)}
        # Every user mapped again moved (or has no row yet); nobody whose groups stayed is.
        assert remapped - moved <= set(USERS) - state.employees.keys()
        # And every user in scope with a row whose team groups moved is mapped again, even
        # where the names stay (from one "Eng" group to the other).
        in_scope = {
            uid
            for uid in USERS
            if spec_index == 0 or any(GROUPS[g] == "Eng" for g in groups_of(second, uid))
        }
        assert moved & in_scope & state.employees.keys() <= remapped
