"""Migration 0006: key columns compare byte by byte ("C" collation) on PostgreSQL.

Each test builds the directory as the release before it leaves it (Alembic up to 0005 and rows
written by that schema), then upgrades the way the operator does, through ``Directory.open``.
"""

from __future__ import annotations

import importlib
import logging

import pytest
from alembic import command
from sqlalchemy import Engine, text

from okta_hris.directory import Directory
from okta_hris.directory.database import alembic_config, write_transaction
from okta_hris.domain.employees import Team

from .directory_samples import INTEGRATION, changes, employee

pytestmark = pytest.mark.postgres

KEY_COLUMNS = importlib.import_module(
    "okta_hris.directory.migrations.versions.0006_key_collation"
).KEY_COLUMNS
# Okta's ids are mixed-case: a locale collation orders "00uB" and "00ua" apart from bytes.
IDS = ["00ua", "00uB", "00u_z", "00uA", "00u9"]


def migrate(engine: Engine, revision: str, *, down: bool = False) -> None:
    config = alembic_config()
    with write_transaction(engine) as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)


def collations(engine: Engine) -> dict[tuple[str, str], str | None]:
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT table_name, column_name, collation_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = ANY(:tables)"
            ),
            {"tables": list(KEY_COLUMNS)},
        )
        return {(table, name): collation for table, name, collation in rows}


def key_collations(engine: Engine) -> dict[tuple[str, str], str | None]:
    found = collations(engine)
    return {
        (table, name): found[table, name] for table, names in KEY_COLUMNS.items() for name in names
    }


def test_upgrade_keeps_the_rows_and_makes_every_key_column_compare_bytes(postgres_url: str) -> None:
    with Directory.open(postgres_url, migrate=False) as directory:
        migrate(directory.engine, "0005")
        assert set(key_collations(directory.engine).values()) == {None}  # the default
        directory.apply(changes(employees_create=[employee(okta_id) for okta_id in IDS]))
        before = directory.load_state(INTEGRATION)

    with Directory.open(postgres_url) as directory:
        assert set(key_collations(directory.engine).values()) == {"C"}
        other = collations(directory.engine)
        assert other["employees", "display_name"] is None  # names keep the database's order
        assert directory.load_state(INTEGRATION) == before
        with directory.engine.connect() as connection:
            ordered = connection.scalars(
                text("SELECT okta_id FROM employees ORDER BY okta_id")
            ).all()
        assert ordered == sorted(IDS)  # the order of Python and SQLite

        migrate(directory.engine, "0005", down=True)
        assert set(key_collations(directory.engine).values()) == {None}
        assert directory.load_state(INTEGRATION) == before


def test_a_table_a_view_reads_keeps_its_collation_and_the_upgrade_goes_on(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with Directory.open(postgres_url, migrate=False) as directory:
        migrate(directory.engine, "0005")
        with directory.engine.begin() as connection:
            connection.execute(
                text("CREATE VIEW people AS SELECT okta_id, display_name FROM employees")
            )

    with caplog.at_level(logging.WARNING), Directory.open(postgres_url) as directory:
        found = key_collations(directory.engine)
        assert {found["employees", name] for name in KEY_COLUMNS["employees"]} == {None}
        assert {value for (table, _), value in found.items() if table != "employees"} == {"C"}
        # Memberships (C) still reference employees (default): a foreign key across them works.
        directory.apply(
            changes(
                employees_create=[employee("00u-ann", teams=("Eng",))],
                teams_upsert=[Team(okta_group_id="00g-eng", name="Eng")],
                memberships_add=[("00u-ann", "00g-eng")],
            )
        )
        assert directory.load_state(INTEGRATION).memberships == {"00u-ann": ("00g-eng",)}
    assert any("employees keeps its collation" in record.getMessage() for record in caplog.records)
