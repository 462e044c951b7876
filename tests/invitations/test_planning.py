"""plan_invitations: who a sync queues an invitation for (pure, no I/O)."""

from __future__ import annotations

from datetime import timedelta

from okta_hris.domain.changes import DirectoryState
from okta_hris.domain.invitations import InvitationRequest
from okta_hris.invitations import plan_invitations
from okta_hris.resource.spec import InvitationSettings

from .support import T0, employee, settings

ENABLED_AT = T0
LATER = T0 + timedelta(hours=1)


def test_new_active_employees_with_a_work_email_are_invited() -> None:
    rows = [
        employee("00u1", email="ada@acme.example", first_synced_at=LATER),
        employee("00u2", email="grace@acme.example", first_synced_at=ENABLED_AT),
    ]
    assert plan_invitations(settings(), DirectoryState(), rows, ENABLED_AT) == [
        InvitationRequest(okta_id="00u1", email="ada@acme.example"),
        InvitationRequest(okta_id="00u2", email="grace@acme.example"),
    ]


def test_inactive_employees_and_employees_without_email_are_not_invited() -> None:
    rows = [
        employee("00u1", active=False, okta_status="STAGED", first_synced_at=LATER),
        employee("00u2", active=False, okta_status="DEPROVISIONED", first_synced_at=LATER),
        employee("00u3", email="", first_synced_at=LATER),
        employee("00u4", email="   ", first_synced_at=LATER),
    ]
    assert plan_invitations(settings(), DirectoryState(), rows, ENABLED_AT) == []


def test_nobody_is_invited_twice() -> None:
    """Not on a resync, nor after a deactivation and return: any existing row counts."""
    state = DirectoryState(invited=frozenset({"00u1"}))
    returning = employee("00u1", first_synced_at=LATER)
    assert plan_invitations(settings(), state, [returning], ENABLED_AT) == []
    # The same person twice in one batch of rows is queued once.
    twice = [employee("00u2", first_synced_at=LATER), employee("00u2", first_synced_at=LATER)]
    assert [r.okta_id for r in plan_invitations(settings(), state, twice, ENABLED_AT)] == ["00u2"]


def test_enabling_on_a_populated_directory_invites_nobody_already_there() -> None:
    old = [employee(f"00u{i}", first_synced_at=T0 - timedelta(days=30)) for i in range(5)]
    state = DirectoryState(employees={row.okta_id: row for row in old})
    # The sync that turns invitations on updates the old employees and creates one.
    newcomer = employee("00u9", first_synced_at=LATER)
    planned = plan_invitations(settings(), state, [*old, newcomer], enabled_at := LATER)
    assert [r.okta_id for r in planned] == ["00u9"]
    assert enabled_at == newcomer.first_synced_at


def test_someone_first_synced_staged_after_enabling_is_invited_once_active() -> None:
    staged = employee("00u1", active=False, okta_status="STAGED", first_synced_at=LATER)
    assert plan_invitations(settings(), DirectoryState(), [staged], ENABLED_AT) == []
    activated = employee("00u1", first_synced_at=LATER)  # first_synced_at never changes
    state = DirectoryState(employees={"00u1": staged})
    assert [r.okta_id for r in plan_invitations(settings(), state, [activated], ENABLED_AT)] == [
        "00u1"
    ]


def test_nothing_is_queued_while_invitations_are_off() -> None:
    rows = [employee("00u1", first_synced_at=LATER)]
    assert plan_invitations(InvitationSettings(), DirectoryState(), rows, ENABLED_AT) == []
    assert plan_invitations(settings(), DirectoryState(), rows, None) == []
