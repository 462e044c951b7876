"""A loaded state holds one object per distinct repeated value (store.py ``_Shared``) and one
string per id, and still reads back exactly what was written."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from okta_hris.directory import Directory
from okta_hris.domain.changes import OktaUserRecord
from tests.directory.directory_samples import INTEGRATION, T0, changes, employee


@pytest.fixture
def directory(database_url: str) -> Iterator[Directory]:
    with Directory.open(database_url) as opened:
        yield opened


def test_repeated_values_and_ids_are_one_object_each(directory: Directory) -> None:
    rows = [employee(f"00u{n}", teams=("Engineering", "Sales")) for n in range(3)]
    rows.append(employee("00u9", title="Staff", city=None, teams=("Sales",)))
    users = [
        OktaUserRecord(id=row.okta_id, status="ACTIVE", last_updated=T0, profile={"n": 1})
        for row in rows
    ]
    directory.apply(
        changes(
            employees_create=rows,
            okta_users_upsert=users,
            okta_members_add=[("00g1", row.okta_id) for row in rows],
            memberships_add=[],
        )
    )
    state = directory.load_state(INTEGRATION)
    assert state.employees == {row.okta_id: row for row in rows}
    loaded = [state.employees[f"00u{n}"] for n in range(3)]
    assert loaded[0].teams is loaded[1].teams is loaded[2].teams
    assert (
        loaded[0].title is loaded[1].title and loaded[0].last_synced_at is loaded[2].first_synced_at
    )
    assert state.employees["00u9"].teams[0] is loaded[0].teams[1]  # "Sales"
    (members,) = state.okta_members.values()
    for okta_id in members:
        assert okta_id is state.employees[okta_id].okta_id is state.okta_users[okta_id].id
