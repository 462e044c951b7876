"""Histories real syncs can reach in which ``compute_plan(trust_rows=True)`` plans something
else than mapping everyone (``compute_plan(...)``) for the same state and snapshot."""

from __future__ import annotations

from datetime import timedelta

from okta_hris.directory import Directory
from okta_hris.domain.changes import OktaUserRecord
from okta_hris.sync.plan import OktaSnapshot, SyncPlan, compute_plan
from tests.sync.helpers import T0, group, make_spec, user

KEY = "people-ops/acme"
SPEC = make_spec()
GROUPS = {"00g1": group("00g1", "Engineering"), "00g2": group("00g2", "Sales")}


def _sync(directory: Directory, snapshot: OktaSnapshot, step: int, *, trust: bool):
    state = directory.load_state(KEY)
    plan = compute_plan(
        SPEC, KEY, state, snapshot, T0 + timedelta(days=1, hours=step), trust_rows=trust
    )
    directory.apply(plan.changes)
    return plan


def _in_engineering(directory: Directory, record: OktaUserRecord) -> None:
    """The first (Full) sync: the user in Engineering, nobody in Sales."""
    members = {"00g1": frozenset({record.id}), "00g2": frozenset()}
    _sync(directory, OktaSnapshot({record.id: record}, dict(GROUPS), members), 0, trust=False)


def _unstorable(record: OktaUserRecord) -> OktaUserRecord:
    """The record as Okta answers it an hour later, with a status no sync can store."""
    return record.replace(status="NOT_A_STATUS", last_updated=T0 + timedelta(hours=1))


def _incremental_plans(directory: Directory, snapshot: OktaSnapshot) -> tuple[SyncPlan, SyncPlan]:
    """What an incremental sync of ``snapshot`` plans mapping everyone, and trusting rows."""
    state = directory.load_state(KEY)
    now = T0 + timedelta(days=1, hours=2)
    reference = compute_plan(SPEC, KEY, state, snapshot, now)
    return reference, compute_plan(SPEC, KEY, state, snapshot, now, trust_rows=True)


def test_a_user_left_out_while_their_memberships_moved_keeps_stale_teams_when_trusted() -> None:
    """A user left out of one sync (a status no Okta status list knows: unstorable) keeps the
    mirror record of before, but the mirror's memberships follow Okta ("Okta's word even for
    left-out users"). The next incremental sync takes the user from the mirror (Okta's listing
    does not return them: lastUpdated did not move): record == mirror and groups == mirror's,
    so the row is trusted and keeps teams ("Engineering",) while employee_teams gains Sales;
    mapping everyone updates the row to ("Engineering", "Sales")."""
    r0 = user("00u1")
    with Directory.open("sqlite://") as directory:
        _in_engineering(directory, r0)  # sync 1 (Full)
        # Sync 2 (Full): Okta answers an odd status (left out) and the user joined Sales.
        odd = _unstorable(r0)
        both = {"00g1": frozenset({"00u1"}), "00g2": frozenset({"00u1"})}
        plan2 = _sync(
            directory, OktaSnapshot({"00u1": odd}, dict(GROUPS), dict(both)), 1, trust=False
        )
        assert plan2.skipped == 1
        # Sync 3 (Incremental): the user is not relisted, so the snapshot holds the mirror's record.
        state = directory.load_state(KEY)
        snapshot = OktaSnapshot(dict(state.okta_users), dict(GROUPS), dict(both))
        reference, trusted = _incremental_plans(directory, snapshot)
        assert [r.teams for r in reference.changes.employees_update] == [("Engineering", "Sales")]
        assert trusted == reference


def test_a_user_left_out_while_their_team_was_deleted_keeps_a_deleted_team_when_trusted() -> None:
    """Same root: while the user is left out their only team group is deleted (teams and
    employee_teams drop it, the row's ``teams`` keeps "Engineering"). When the user is back
    (from the mirror, unchanged), the trusted plan leaves ``employees.teams`` naming a team the
    directory no longer has; mapping everyone clears it."""
    r0 = user("00u1")
    with Directory.open("sqlite://") as directory:
        _in_engineering(directory, r0)
        odd = _unstorable(r0)
        only_sales = {"00g2": GROUPS["00g2"]}
        _sync(
            directory,
            OktaSnapshot({"00u1": odd}, dict(only_sales), {"00g2": frozenset()}),
            1,
            trust=False,
        )
        state = directory.load_state(KEY)
        assert "00g1" not in state.teams and state.employees["00u1"].teams == ("Engineering",)
        snapshot = OktaSnapshot(dict(state.okta_users), dict(only_sales), {"00g2": frozenset()})
        reference, trusted = _incremental_plans(directory, snapshot)
        assert [r.teams for r in reference.changes.employees_update] == [()]
        assert trusted == reference


def test_a_lone_surrogate_in_a_profile_maps_differently_from_the_mirror() -> None:
    """Full sync maps Okta's raw profile (lone surrogate removed: "Anne"); the mirror stores
    ``storable_json`` of it, which replaced the surrogate with U+FFFD ("Ann\\ufffde"). The next
    incremental sync took the mirror's record: trusted kept "Anne", mapping everyone rewrote
    the row to "Ann\\ufffde" (and every Full sync back). The mirror now drops the surrogate as
    mapping does, so both plans are the same."""
    raw = user("00u1", firstName="Ann\ud800e")
    with Directory.open("sqlite://") as directory:
        _sync(
            directory,
            OktaSnapshot({"00u1": raw}, dict(GROUPS), {"00g1": frozenset({"00u1"})}),
            0,
            trust=False,
        )
        state = directory.load_state(KEY)
        assert state.employees["00u1"].first_name == "Anne"
        snapshot = OktaSnapshot(dict(state.okta_users), dict(GROUPS), {"00g1": frozenset({"00u1"})})
        reference, trusted = _incremental_plans(directory, snapshot)
        assert trusted == reference
