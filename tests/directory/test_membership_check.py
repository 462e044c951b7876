"""Every membership names an employee and a team of its integration: ``Directory.apply`` checks
it in its transaction (the foreign keys that did are gone, migration 0007) and refuses the
whole apply otherwise, on SQLite and PostgreSQL, for a few employees and past one ``IN (...)``.
"""

from __future__ import annotations

import pytest

from okta_hris.directory import Directory
from okta_hris.directory.store import IN_CHUNK
from okta_hris.domain.changes import Pairs
from okta_hris.domain.employees import Team
from okta_hris.errors import DirectoryError

from .directory_samples import INTEGRATION, changes, employee, table_contents

ENGINEERING = Team(okta_group_id="00g-eng", name="Engineering")
OTHER = "people-ops/other"
# More employees than one IN (...) holds: the check goes over the whole integration.
MANY = [f"00u-{n:05}" for n in range(IN_CHUNK + 1)]


def refused(directory: Directory, **fields: object) -> None:
    before = table_contents(directory.engine)
    with pytest.raises(DirectoryError) as raised:
        directory.apply(changes(**fields))
    message = str(raised.value)
    assert message.startswith(f"cannot apply the sync of {INTEGRATION}: a membership")
    assert message.endswith("nothing was applied")
    assert "\n" not in message
    assert table_contents(directory.engine) == before


@pytest.fixture
def filled(directory: Directory) -> Directory:
    """Ann in Engineering, in this integration and in another one."""
    for integration in (INTEGRATION, OTHER):
        directory.apply(
            changes(
                integration=integration,
                employees_create=[employee("00u-ann", integration=integration)],
                teams_upsert=[ENGINEERING],
                memberships_add=[("00u-ann", "00g-eng")],
            )
        )
    return directory


def test_a_membership_of_an_employee_it_does_not_hold_is_refused(filled: Directory) -> None:
    refused(filled, memberships_add=[("00u-ann", "00g-eng"), ("00u-nobody", "00g-eng")])


def test_a_membership_of_a_team_it_does_not_hold_is_refused(filled: Directory) -> None:
    refused(filled, memberships_add=[("00u-ann", "00g-none")])


def test_a_membership_of_a_team_the_same_apply_deletes_is_refused(filled: Directory) -> None:
    refused(
        filled,
        employees_create=[employee("00u-bob")],
        memberships_add=[("00u-bob", "00g-eng")],
        teams_delete=["00g-eng"],
    )


def test_another_integrations_employee_and_team_do_not_count(filled: Directory) -> None:
    filled.apply(
        changes(
            integration=OTHER,
            employees_create=[employee("00u-bob", integration=OTHER)],
            teams_upsert=[Team(okta_group_id="00g-ops", name="Ops")],
        )
    )
    refused(filled, memberships_add=[("00u-bob", "00g-eng")])
    refused(filled, memberships_add=[("00u-ann", "00g-ops")])


def test_past_one_in_list_the_whole_integration_is_checked(filled: Directory) -> None:
    rows = [employee(okta_id) for okta_id in MANY]
    every = Pairs({okta_id: ["00g-eng"] for okta_id in MANY})
    refused(filled, employees_create=rows[:-1], memberships_add=every)
    refused(
        filled,
        employees_create=rows,
        memberships_add=Pairs({**{okta_id: ["00g-eng"] for okta_id in MANY}, MANY[0]: ["00g-x"]}),
    )
    filled.apply(changes(employees_create=rows, memberships_add=every))
    memberships = filled.load_state(INTEGRATION).memberships
    assert memberships == {okta_id: ("00g-eng",) for okta_id in ["00u-ann", *MANY]}


def test_memberships_of_held_employees_and_teams_are_applied(filled: Directory) -> None:
    filled.apply(
        changes(
            employees_create=[employee("00u-bob")],
            teams_upsert=[Team(okta_group_id="00g-ops", name="Ops")],
            memberships_add=[("00u-bob", "00g-eng"), ("00u-ann", "00g-ops")],
        )
    )
    memberships = filled.load_state(INTEGRATION).memberships
    assert memberships == {"00u-ann": ("00g-eng", "00g-ops"), "00u-bob": ("00g-eng",)}
