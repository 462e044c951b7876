"""Planner statistics after bulk writes (issue 12): an apply that wrote more than
``BULK_WRITE_ROWS`` rows to a table ANALYZEs that table once committed, on SQLite and on
PostgreSQL, so that the next sync's deletes and updates are not planned for an empty table."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import Connection, text

from okta_hris.directory import Directory
from okta_hris.directory.store import BULK_WRITE_ROWS
from okta_hris.domain.changes import DirectoryChanges, OktaUserRecord
from okta_hris.domain.employees import Team

from .directory_samples import T0, changes, employee

BULK = BULK_WRITE_ROWS + 1


def analysed(directory: Directory) -> set[str]:
    """The tables with statistics taken by an ANALYZE statement (PostgreSQL: by hand, so not
    autovacuum's; SQLite has no autovacuum analysis, and keeps them in ``sqlite_stat1``)."""
    with directory.engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            query = "SELECT relname FROM pg_stat_user_tables WHERE analyze_count > 0"
        elif _has_stat1(connection):
            query = "SELECT tbl FROM sqlite_stat1"
        else:
            return set()
        return set(connection.scalars(text(query)))


def planned_rows(directory: Directory, table: str) -> int:
    """How many rows the query planner believes ``table`` has, from its statistics (SQLite's
    are an estimate: its ANALYZE reads a sample)."""
    with directory.engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            query = text("SELECT reltuples FROM pg_class WHERE relname = :t AND relkind = 'r'")
            return int(connection.execute(query, {"t": table}).scalar_one())
        # Each index's row of sqlite_stat1 starts with the number of rows it has.
        stats = connection.scalars(
            text("SELECT stat FROM sqlite_stat1 WHERE tbl = :t"), {"t": table}
        )
        return max((int(stat.split()[0]) for stat in stats), default=0)


def _has_stat1(connection: Connection) -> bool:
    query = text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'")
    return connection.execute(query).first() is not None


def first_sync(count: int) -> DirectoryChanges:
    """A first sync's writes: ``count`` employees in one team, each mirrored as an Okta user."""
    ids = [f"00u{n:06d}" for n in range(count)]
    return changes(
        employees_create=[employee(okta_id) for okta_id in ids],
        teams_upsert=[Team(okta_group_id="00g1", name="Engineering")],
        memberships_add=[(okta_id, "00g1") for okta_id in ids],
        okta_users_upsert=[
            OktaUserRecord(id=okta_id, status="ACTIVE", last_updated=T0, profile={})
            for okta_id in ids
        ],
    )


def test_a_bulk_apply_analyses_the_tables_it_loaded_and_only_those(directory: Directory) -> None:
    directory.apply(first_sync(BULK))

    # teams took one row, the other tables none: their statistics are autovacuum's business.
    assert analysed(directory) == {"employees", "employee_teams", "okta_users"}
    assert planned_rows(directory, "employees") == pytest.approx(BULK, rel=0.2)


def test_a_small_apply_analyses_nothing(directory: Directory) -> None:
    directory.apply(first_sync(BULK_WRITE_ROWS))

    assert analysed(directory) == set()


def test_updates_and_removals_count_as_rows_written(directory: Directory) -> None:
    loaded = first_sync(BULK)
    directory.apply(loaded)
    assert planned_rows(directory, "employee_teams") == pytest.approx(BULK, rel=0.2)

    # The next sync inserts nothing: it changes every title and empties the team.
    directory.apply(
        changes(
            employees_update=[
                dataclasses.replace(e, title="Staff") for e in loaded.employees_create
            ],
            memberships_remove=loaded.memberships_add,
        )
    )

    assert planned_rows(directory, "employee_teams") == 0
    assert planned_rows(directory, "employees") == pytest.approx(BULK, rel=0.2)
    assert {e.title for e in directory.list_employees()} == {"Staff"}
