"""``okta-hris plan`` writes nothing to the directory (issue 13, item 9).

It creates no schema (an empty PostgreSQL database, a 0-byte SQLite file), switches no journal
mode, runs no migration, and works with a SELECT-only PostgreSQL role and a SQLite file opened
``mode=ro``. A directory that does not exist yet is planned against as empty, and says so; one
at an older schema is one line saying to sync first.
"""

from __future__ import annotations

import hashlib
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from okta_hris.sandbox import Sandbox

from ..cli.test_directory_commands import one_error_line
from ..support.cli import CliResult, run_cli

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
INTEGRATION = "people-ops/acme"


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    path = tmp_path / "acme.yaml"
    path.write_text(
        (EXAMPLES / "okta-token-secret.yaml").read_text()
        + "\n---\n"
        + (EXAMPLES / "minimal.yaml").read_text()
    )
    return path


def plan(sandbox: Sandbox, manifest: Path, url: str) -> CliResult:
    return run_cli("plan", "-f", str(manifest), "--okta-url", sandbox.url, "--database", url)


def sync(sandbox: Sandbox, manifest: Path, url: str) -> None:
    result = run_cli("sync", "-f", str(manifest), "--okta-url", sandbox.url, "--database", url)
    assert result.returncode == 0, result.stderr


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tables(url: str) -> list[str]:
    engine = sa.create_engine(url)
    try:
        return sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()


def assert_planned_as_empty(result: CliResult) -> None:
    assert result.returncode == 0, result.stderr
    assert "full sync would create 200, update 0, deactivate 0" in result.stdout
    assert "is empty (no okta-hris schema yet): planned as if nobody were in it" in result.stderr


def test_a_0_byte_sqlite_file_stays_0_bytes(
    sandbox: Sandbox, manifest: Path, tmp_path: Path
) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()
    assert_planned_as_empty(plan(sandbox, manifest, f"sqlite:///{empty}"))
    assert empty.stat().st_size == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["acme.yaml", "empty.db"]


def test_a_missing_sqlite_file_is_not_created(
    sandbox: Sandbox, manifest: Path, tmp_path: Path
) -> None:
    missing = tmp_path / "no" / "such" / "directory.db"
    assert_planned_as_empty(plan(sandbox, manifest, f"sqlite:///{missing}"))
    assert not (tmp_path / "no").exists()


def test_an_empty_postgresql_database_gets_no_schema(
    sandbox: Sandbox, manifest: Path, postgres_url: str
) -> None:
    assert_planned_as_empty(plan(sandbox, manifest, postgres_url))
    assert tables(postgres_url) == []


def test_a_journal_mode_sqlite_file_keeps_its_mode_and_its_bytes(
    sandbox: Sandbox, manifest: Path, tmp_path: Path
) -> None:
    path = tmp_path / "directory.db"
    url = f"sqlite:///{path}"
    sync(sandbox, manifest, url)
    with sqlite3.connect(path) as connection:  # as a tool that reads the file might leave it
        assert connection.execute("PRAGMA journal_mode=DELETE").fetchone() == ("delete",)
    before = digest(path)
    result = plan(sandbox, manifest, url)
    assert result.returncode == 0, result.stderr
    assert "incremental sync would create 0" in result.stdout
    assert digest(path) == before
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    assert not Path(f"{path}-wal").exists()


def test_a_read_only_sqlite_file_and_a_mode_ro_uri_are_enough(
    sandbox: Sandbox, manifest: Path, tmp_path: Path
) -> None:
    path = tmp_path / "directory.db"
    sync(sandbox, manifest, f"sqlite:///{path}")
    path.chmod(0o444)
    before = digest(path)
    for url in (f"sqlite:///{path}", f"sqlite:///file:{path}?mode=ro&uri=true"):
        result = plan(sandbox, manifest, url)
        assert result.returncode == 0, (url, result.stderr)
        assert "incremental sync would create 0, update 0, deactivate 0" in result.stdout
    assert digest(path) == before


@pytest.fixture
def reader_url(postgres_url: str) -> Iterator[str]:
    """A login role that may only SELECT from the directory's tables."""
    role = f"hris_reader_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    yield sa.make_url(postgres_url).set(username=role).render_as_string(hide_password=False)
    with admin.connect() as connection:
        if connection.exec_driver_sql(f"SELECT 1 FROM pg_roles WHERE rolname = '{role}'").all():
            connection.exec_driver_sql(f"DROP OWNED BY {role}")  # its grants, in this database
            connection.exec_driver_sql(f"DROP ROLE {role}")
    admin.dispose()


def grant_select(postgres_url: str, reader_url: str) -> None:
    role = sa.make_url(reader_url).username
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE ROLE {role} LOGIN")
        connection.exec_driver_sql(f"GRANT USAGE ON SCHEMA public TO {role}")
        connection.exec_driver_sql(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}")
    admin.dispose()


def test_a_select_only_postgresql_role_is_enough(
    sandbox: Sandbox, manifest: Path, postgres_url: str, reader_url: str
) -> None:
    sync(sandbox, manifest, postgres_url)
    grant_select(postgres_url, reader_url)
    result = plan(sandbox, manifest, reader_url)
    assert result.returncode == 0, result.stderr
    assert "incremental sync would create 0, update 0, deactivate 0" in result.stdout
    # The same role cannot sync: the plan did not succeed by writing after all.
    refused = run_cli(
        "sync", "-f", str(manifest), "--okta-url", sandbox.url, "--database", reader_url
    )
    assert refused.returncode == 1 and "permission denied" in refused.stderr


def test_an_older_schema_is_one_line_saying_to_sync_first(
    sandbox: Sandbox, manifest: Path, database_url: str
) -> None:
    sync(sandbox, manifest, database_url)
    engine = sa.create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '0002'")
    line = one_error_line(plan(sandbox, manifest, database_url))
    assert line.endswith(
        "has an older schema (revision '0002'): run okta-hris sync (or the operator) once to "
        "upgrade it, then plan again"
    )
    with engine.connect() as connection:  # and plan did not migrate it meanwhile
        assert connection.exec_driver_sql("SELECT version_num FROM alembic_version").all() == [
            ("0002",)
        ]
    engine.dispose()
