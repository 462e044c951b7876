"""The shipped Alembic migrations, run the way the operator runs them at start-up."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from okta_hris.directory import Directory
from okta_hris.directory.database import (
    alembic_config,
    current_revision,
    head_revision,
    write_transaction,
)
from okta_hris.directory.schema import metadata
from okta_hris.errors import DirectoryError
from tests.support.threads import at_once

from .directory_samples import INTEGRATION, changes, employee


def test_migrated_schema_equals_the_tables_of_schema_py(database_url: str) -> None:
    with Directory.open(database_url) as directory, directory.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        assert compare_metadata(context, metadata) == []
        assert set(inspect(connection).get_table_names()) == {*metadata.tables, "alembic_version"}


def test_upgrade_is_idempotent_and_keeps_the_data(database_url: str) -> None:
    with Directory.open(database_url) as directory:
        directory.apply(changes(employees_create=[employee("00u-ann")]))
        before = directory.load_state(INTEGRATION)

    with Directory.open(database_url) as directory:
        assert directory.load_state(INTEGRATION) == before
        with directory.engine.connect() as connection:
            assert current_revision(connection) == head_revision()
            assert connection.scalar(text("SELECT count(*) FROM alembic_version")) == 1


def test_replicas_starting_at_once_migrate_once(database_url: str) -> None:
    # Without the migration lock both would create the tables and one would fail.
    errors = at_once(lambda: Directory.open(database_url).close())
    assert errors == []
    with (
        Directory.open(database_url, migrate=False) as directory,
        directory.engine.connect() as connection,
    ):
        assert connection.scalar(text("SELECT count(*) FROM alembic_version")) == 1


def test_a_schema_from_a_newer_release_is_refused(database_url: str) -> None:
    with Directory.open(database_url) as directory, directory.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))

    with pytest.raises(DirectoryError, match=r"revision '9999'.*newer release"):
        Directory.open(database_url)


def test_open_without_migrating_leaves_the_database_alone(database_url: str) -> None:
    with (
        Directory.open(database_url, migrate=False) as directory,
        directory.engine.connect() as connection,
    ):
        assert inspect(connection).get_table_names() == []


def test_downgrade_to_base_and_back(database_url: str) -> None:
    with Directory.open(database_url) as directory:
        config = alembic_config()
        with write_transaction(directory.engine) as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "base")
        with directory.engine.connect() as connection:
            assert inspect(connection).get_table_names() == ["alembic_version"]
    with Directory.open(database_url) as directory:
        assert directory.integrations() == []
