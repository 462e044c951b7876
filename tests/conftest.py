"""Fixtures every test module may use: the Okta sandbox, and SQLite / PostgreSQL directories.

PostgreSQL runs at 127.0.0.1:5432 (user postgres, trust auth) on our machines. Without it the
PostgreSQL cases are skipped, unless HRIS_REQUIRE_POSTGRES=1 (as in CI), where they fail.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from okta_hris.sandbox import Sandbox, SandboxConfig, run_sandbox

# The maintenance database every server has: each test creates (and drops) a scratch
# database of its own from there, so no database needs to exist beforehand.
POSTGRES_ADMIN_URL = os.environ.get(
    "HRIS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
_RUN_ID = uuid.uuid4().hex[:8]
_db_counter = itertools.count()


def _postgres_reachable() -> str | None:
    """None when reachable, else why not."""
    try:
        engine = sa.create_engine(POSTGRES_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        engine.dispose()
        return None
    except Exception as exc:  # any driver or network error means "not here"
        return f"{type(exc).__name__}: {exc}"


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    problem = _postgres_reachable()
    if problem is not None:
        if os.environ.get("HRIS_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"HRIS_REQUIRE_POSTGRES=1 but PostgreSQL is not reachable: {problem}")
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}: {problem}")
    return POSTGRES_ADMIN_URL


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    name = f"hris_test_{_RUN_ID}_{next(_db_counter)}"
    admin = sa.create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.make_url(postgres_admin_url).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'directory.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """Each test using this runs once on SQLite and once on PostgreSQL."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture
def sandbox_factory() -> Iterator[Callable[..., Sandbox]]:
    """Start sandboxes with any configuration; each runs in its own thread and stops afterwards."""
    stack: list[Any] = []

    def start(**config: Any) -> Sandbox:
        context = run_sandbox(SandboxConfig(**config))
        sandbox = context.__enter__()
        stack.append(context)
        return sandbox

    yield start
    for context in reversed(stack):
        context.__exit__(None, None, None)


@pytest.fixture
def sandbox(sandbox_factory: Callable[..., Sandbox]) -> Sandbox:
    """A running sandbox with a seeded org of 200 users and 20 groups."""
    return sandbox_factory(users=200, groups=20, seed=7)
