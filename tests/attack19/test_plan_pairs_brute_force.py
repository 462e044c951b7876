"""Red-team of the compact memberships: a plan's four membership lists (``Pairs``) and each
user's team groups (sorted tuples, compared by ``_RowsOfLastSync``) against a brute-force
expectation, over ids that sort differently under different rules (case, accents, astral
characters, prefixes of one another), across two syncs into a real directory."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from okta_hris.directory import Directory
from okta_hris.domain.changes import OktaGroupRecord, Pairs
from okta_hris.sync.plan import OktaSnapshot, compute_plan
from tests.sync.helpers import T0, group, make_spec, user

KEY = "people-ops/attack19"
# Ids whose order differs between code points, a locale and case folding.
SUFFIXES = ["a", "B", "b", "é", "e", "E\u0301", "\U0001f600", "1", "10", "1a", "Z", "_", "~"]
USER_IDS = [f"00u{s}" for s in SUFFIXES]
GROUP_IDS = [f"00g{s}" for s in SUFFIXES]
SPECS = [
    make_spec(),
    make_spec(sync={"scope": "Filtered"}, filters={"teams": {"include": ["T-00ga"]}}),
]

memberships = st.dictionaries(
    st.sampled_from(GROUP_IDS), st.sets(st.sampled_from(USER_IDS)), min_size=1, max_size=6
)


def snapshot_of(users: list[str], members: dict[str, set[str]]) -> OktaSnapshot:
    groups: dict[str, OktaGroupRecord] = {gid: group(gid, f"T-{gid}") for gid in GROUP_IDS}
    return OktaSnapshot(
        users={uid: user(uid) for uid in users},
        groups=groups,
        members={gid: frozenset(m) & set(users) for gid, m in members.items()},
    )


def in_scope(spec_index: int, uid: str, members: dict[str, frozenset[str]]) -> bool:
    return spec_index == 0 or uid in members.get("00ga", frozenset())


def expected_memberships(spec_index: int, snapshot: OktaSnapshot) -> set[tuple[str, str]]:
    return {
        (uid, gid)
        for gid, them in snapshot.members.items()
        for uid in them
        if in_scope(spec_index, uid, snapshot.members)
    }


def check(pairs: object, expected: set[tuple[str, str]]) -> None:
    assert isinstance(pairs, Pairs)
    assert list(pairs) == sorted(expected)
    assert len(pairs) == len(expected)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    spec_index=st.integers(0, len(SPECS) - 1),
    users=st.lists(st.sampled_from(USER_IDS), unique=True, min_size=1),
    first=memberships,
    second=memberships,
)
def test_two_syncs_write_the_brute_force_memberships(
    spec_index: int, users: list[str], first: dict[str, set[str]], second: dict[str, set[str]]
) -> None:
    spec = SPECS[spec_index]
    with Directory.open("sqlite://") as directory:
        before_mirror: set[tuple[str, str]] = set()
        before_rows: set[tuple[str, str]] = set()
        for step, members in enumerate((first, second)):
            now = T0 + timedelta(days=step + 1)
            state = directory.load_state(KEY)
            snapshot = snapshot_of(users, members)
            plan = compute_plan(spec, KEY, state, snapshot, now)
            trusted = compute_plan(
                spec, KEY, state, snapshot_of(users, members), now, trust_rows=step > 0
            )
            assert trusted == plan
            changes = plan.changes
            mirror = {(gid, uid) for gid, them in snapshot.members.items() for uid in them}
            check(changes.okta_members_add, mirror - before_mirror)
            check(changes.okta_members_remove, before_mirror - mirror)
            rows = expected_memberships(spec_index, snapshot)
            # A row out of scope keeps its teams that are still teams (used).
            used = {gid for _, gid in rows}
            kept = {
                (uid, gid)
                for uid, gid in before_rows
                if not in_scope(spec_index, uid, snapshot.members) and gid in used
            }
            rows |= kept
            check(changes.memberships_add, rows - before_rows)
            check(changes.memberships_remove, before_rows - rows)
            directory.apply(changes)
            after = directory.load_state(KEY)
            assert {(g, u) for g, them in after.okta_members.items() for u in them} == mirror
            assert {(u, g) for u, them in after.memberships.items() for g in them} == rows
            before_mirror, before_rows = mirror, rows
