"""Red-team of the streamed writes through the store's own apply (one transaction): a value
refused past the first chunk, or an update of a missing employee in the last chunk."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from okta_hris.directory import schema
from okta_hris.directory.statements import CHUNK_ROWS, STAGED_ROWS
from okta_hris.directory.store import Directory
from okta_hris.domain.changes import DirectoryChanges, OktaGroupRecord, OktaUserRecord
from okta_hris.domain.employees import EmployeeRow, Team
from okta_hris.errors import DirectoryError

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
KEY = "acme/attack18-apply"


@pytest.fixture
def directory(database_url: str) -> Iterator[Directory]:
    with Directory.open(database_url) as opened:
        yield opened


def employee(n: int, **extra: object) -> EmployeeRow:
    values: dict[str, object] = {
        "okta_id": f"00u{n:06d}",
        "okta_status": "ACTIVE",
        "active": True,
        "display_name": f"Secret Name {n}",
        "teams": ("Eng",),
        "okta_last_updated": T0,
        "integration": KEY,
        "first_synced_at": T0,
        "last_synced_at": T0,
    }
    values.update(extra)
    return EmployeeRow(**values)  # type: ignore[arg-type]


def user(n: int, when: datetime = T0) -> OktaUserRecord:
    return OktaUserRecord(
        id=f"00u{n:06d}", status="ACTIVE", last_updated=when, profile={"login": f"secret{n}"}
    )


def count(directory: Directory, table: sa.Table) -> int:
    with directory.engine.connect() as connection:
        return int(
            connection.execute(
                sa.select(sa.func.count()).select_from(table).where(table.c.integration == KEY)
            ).scalar_one()
        )


def test_a_naive_time_past_the_first_chunk_fails_the_whole_apply_in_one_clean_line(
    directory: Directory,
) -> None:
    many = CHUNK_ROWS + STAGED_ROWS + 3
    users = [user(n) for n in range(many)]
    users[-2] = user(many - 2, datetime(2026, 1, 1))  # naive: refused mid-COPY / 2nd chunk
    group = OktaGroupRecord(id="00gEng", type="OKTA_GROUP", name="Eng", last_updated=T0)
    changes = DirectoryChanges(
        integration=KEY,
        synced_at=T0,
        okta_users_upsert=tuple(users),
        okta_groups_upsert=(group,),
        okta_members_add=tuple(("00gEng", u.id) for u in users),
        teams_upsert=(Team(okta_group_id="00gEng", name="Eng"),),
    )
    with pytest.raises(DirectoryError) as caught:
        directory.apply(changes)
    text = str(caught.value)
    assert "\n" not in text and "secret" not in text and "Secret" not in text
    for table in (schema.okta_users, schema.okta_groups, schema.okta_group_members, schema.teams):
        assert count(directory, table) == 0, table.name
    # The directory still works: the same changes, corrected, apply.
    users[-2] = user(many - 2)
    directory.apply(dataclasses.replace(changes, okta_users_upsert=tuple(users)))
    assert count(directory, schema.okta_users) == many
    assert count(directory, schema.okta_group_members) == many


def test_an_update_of_a_missing_employee_in_the_last_chunk_is_refused(
    directory: Directory,
) -> None:
    many = CHUNK_ROWS + 2
    rows = [employee(n) for n in range(many)]
    directory.apply(DirectoryChanges(integration=KEY, synced_at=T0, employees_create=tuple(rows)))
    updated = [dataclasses.replace(r, title="new") for r in rows]
    updated[-1] = employee(999_999, title="new")  # never created
    with pytest.raises(DirectoryError, match="1 of the employees to update"):
        directory.apply(
            DirectoryChanges(integration=KEY, synced_at=T0, employees_update=tuple(updated))
        )
    with directory.engine.connect() as connection:
        titles = set(
            connection.execute(
                sa.select(schema.employees.c.title).where(schema.employees.c.integration == KEY)
            ).scalars()
        )
    assert titles == {None}
