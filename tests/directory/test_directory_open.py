"""Directory.open: URLs, connection settings and the errors a user sees."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import make_url

from okta_hris.directory import Directory
from okta_hris.errors import DirectoryError

from .directory_samples import INTEGRATION, changes, employee


def _one_clean_line(error: DirectoryError, *secrets: str) -> str:
    message = str(error)
    assert "\n" not in message
    for secret in secrets:
        assert secret not in message
        assert secret not in repr(error.__cause__)
    return message


def test_sqlite_file_folder_is_created_with_the_connection_settings(tmp_path: Path) -> None:
    path = tmp_path / "not" / "yet" / "there" / "directory.db"
    with Directory.open(f"sqlite:///{path}") as directory:
        assert path.is_file()
        with directory.engine.connect() as connection:
            pragma = connection.exec_driver_sql
            assert pragma("PRAGMA journal_mode").scalar() == "wal"
            assert pragma("PRAGMA foreign_keys").scalar() == 1
            assert pragma("PRAGMA busy_timeout").scalar() == 30_000


def test_in_memory_sqlite_keeps_its_data_between_calls() -> None:
    with Directory.open("sqlite://") as directory:
        directory.apply(changes(employees_create=[employee("00u-ann")]))
        assert set(directory.load_state(INTEGRATION).employees) == {"00u-ann"}


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_postgres_urls_without_a_driver_use_psycopg(postgres_url: str, scheme: str) -> None:
    url = make_url(postgres_url).set(drivername=scheme).render_as_string(hide_password=False)
    with Directory.open(url) as directory:
        assert directory.engine.url.drivername == "postgresql+psycopg"
        directory.apply(changes(employees_create=[employee("00u-ann")]))
        assert set(directory.load_state(INTEGRATION).employees) == {"00u-ann"}


@pytest.mark.parametrize(
    "url",
    ["not a url", "postgresql://admin:hunter2@db:not-a-port/directory", "://hunter2"],
)
def test_unparsable_urls(url: str) -> None:
    with pytest.raises(DirectoryError) as raised:
        Directory.open(url)
    message = _one_clean_line(raised.value, "hunter2")
    assert "not a valid database URL" in message


def test_unsupported_databases() -> None:
    with pytest.raises(DirectoryError, match="'mysql' is not supported"):
        Directory.open("mysql://admin:hunter2@db/directory")


def test_unreachable_postgres_names_the_server_not_the_password() -> None:
    with pytest.raises(DirectoryError) as raised:
        Directory.open("postgresql://admin:hunter2@127.0.0.1:1/directory")
    message = _one_clean_line(raised.value, "hunter2")
    assert message.startswith(
        "cannot open the directory postgresql+psycopg://admin:***@127.0.0.1:1"
    )
    assert "Connection refused" in message


def test_missing_postgres_database(postgres_admin_url: str) -> None:
    url = make_url(postgres_admin_url).set(database="hris_no_such_database")
    with pytest.raises(DirectoryError) as raised:
        Directory.open(url.render_as_string(hide_password=False))
    assert 'database "hris_no_such_database" does not exist' in _one_clean_line(raised.value)


def test_sqlite_folder_that_cannot_be_created(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(DirectoryError, match="cannot create the directory's folder"):
        Directory.open(f"sqlite:///{blocker / 'sub' / 'directory.db'}")


def test_repr_masks_the_password(postgres_url: str) -> None:
    url = make_url(postgres_url).set(password="hunter2").render_as_string(hide_password=False)
    # trust authentication accepts any password
    with Directory.open(url, migrate=False) as directory:
        assert "hunter2" not in repr(directory)
        assert "***" in repr(directory)
