"""Migration 0007: ``employee_teams`` loses its foreign keys; the apply checks memberships.

Each test builds the directory as the release before it leaves it (Alembic up to 0006 and rows
written by that schema), then upgrades the way the operator does, through ``Directory.open``.
"""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import IntegrityError

from okta_hris.directory import Directory
from okta_hris.directory.database import alembic_config, write_transaction
from okta_hris.domain.employees import Team
from okta_hris.errors import DirectoryError

from .directory_samples import INTEGRATION, changes, employee, table_contents


def migrate(engine: Engine, revision: str, *, down: bool = False) -> None:
    config = alembic_config()
    with write_transaction(engine) as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)


def foreign_keys(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return sorted(
            str(key["name"]) for key in inspect(connection).get_foreign_keys("employee_teams")
        )


def indexes(engine: Engine) -> list[str | None]:
    with engine.connect() as connection:
        return [index["name"] for index in inspect(connection).get_indexes("employee_teams")]


FILLED = changes(
    employees_create=[employee("00u-ann"), employee("00u-bob")],
    teams_upsert=[
        Team(okta_group_id="00g-eng", name="Engineering"),
        Team(okta_group_id="00g-ops", name="Ops"),
    ],
    memberships_add=[("00u-ann", "00g-eng"), ("00u-ann", "00g-ops"), ("00u-bob", "00g-eng")],
)


def test_upgrade_keeps_the_memberships_and_drops_the_foreign_keys(database_url: str) -> None:
    with Directory.open(database_url, migrate=False) as directory:
        migrate(directory.engine, "0006")
        assert foreign_keys(directory.engine) == [
            "fk_employee_teams_integration_employees",
            "fk_employee_teams_integration_teams",
        ]
        directory.apply(FILLED)
        before = table_contents(directory.engine)

    with Directory.open(database_url) as directory:
        assert foreign_keys(directory.engine) == []
        assert indexes(directory.engine) == ["ix_employee_teams_group"]
        assert table_contents(directory.engine) == before
        with pytest.raises(DirectoryError, match="a membership it adds names an employee"):
            directory.apply(changes(memberships_add=[("00u-nobody", "00g-eng")]))
        assert table_contents(directory.engine) == before

        migrate(directory.engine, "0006", down=True)
        assert len(foreign_keys(directory.engine)) == 2
        assert table_contents(directory.engine) == before


def test_a_downgrade_over_a_dangling_membership_fails_and_changes_nothing(
    database_url: str,
) -> None:
    with Directory.open(database_url) as directory:
        directory.apply(FILLED)
        with directory.engine.begin() as connection:  # what no sync writes: a bare row
            connection.execute(
                text(
                    "INSERT INTO employee_teams (integration, okta_id, okta_group_id) "
                    "VALUES (:integration, '00u-gone', '00g-eng')"
                ),
                {"integration": INTEGRATION},
            )
        before = table_contents(directory.engine)
        with pytest.raises(IntegrityError, match=r"(?i)foreign key"):
            migrate(directory.engine, "0006", down=True)
        assert foreign_keys(directory.engine) == []
        assert table_contents(directory.engine) == before
