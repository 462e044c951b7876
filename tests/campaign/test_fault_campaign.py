"""The fault campaign (issue 13): seeded, bounded faults, each run ending with the directory
equal to its state before the fault or to that of a fault-free run, and invitations sent
exactly once apart from the documented window (docs/INVITATIONS.md).

- hostile Okta answers: the sandbox's faults (401, 403, 429, 5xx, dropped connections) at
  seeded random requests;
- database faults: a PostgreSQL connection terminated (``pg_terminate_backend``) in the middle
  of an apply, a SQLite directory another writer keeps locked;
- kills: ``okta-hris sync`` with invitations on, SIGKILLed at seeded random moments, rerun
  (tests/campaign/kill_rerun.py). A few trials always; the long part is ``slow``.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from okta_hris.directory import database, schema
from okta_hris.directory.store import Directory
from okta_hris.errors import DirectoryError, HrisError
from okta_hris.okta import OktaClient, OktaCredential
from okta_hris.resource.spec import OktaIntegrationSpec
from okta_hris.sandbox import Fault, Sandbox
from okta_hris.settings import Settings
from okta_hris.sync.engine import SyncReport, SyncRequest, run_sync

from .kill_rerun import Relay, Sync, kill_and_rerun, outcome, running_relay, write_manifest

INTEGRATION = "people-ops/acme"
SPEC = OktaIntegrationSpec.model_validate(
    {"okta": {"subdomain": "acme", "tokenSecretRef": {"name": "okta"}}}
)
# What a sync writes that a reader compares; the bookkeeping of runs and leases aside.
COMPARED = (
    schema.employees,
    schema.teams,
    schema.employee_teams,
    schema.invitations,
    schema.okta_users,
    schema.okta_groups,
    schema.okta_group_members,
)
TIMES = {"first_synced_at", "last_synced_at", "deactivated_at", "created_at"}
FAULT_KINDS = ("401", "403", "429", "500", "502", "503", "504", "drop")
RETRYABLE_KINDS = ("429", "500", "502", "503", "504", "drop")


def dump(directory: Directory, *, times: bool = True) -> dict[str, list[tuple[Any, ...]]]:
    """Every compared row, sorted; without the sync's own timestamps unless ``times``."""
    tables: dict[str, list[tuple[Any, ...]]] = {}
    with directory.engine.connect() as connection:
        for table in COMPARED:
            columns = [c for c in table.columns if times or c.name not in TIMES]
            rows = connection.execute(sa.select(*columns)).all()
            tables[table.name] = sorted(tuple(map(repr, row)) for row in rows)
    return tables


def quick_client(base_url: str, token: str | OktaCredential) -> OktaClient:
    """The real client with a small retry budget, so that a fault fails a sync in a second."""
    return OktaClient(base_url, token, max_retries=1, backoff_base=0.01, backoff_max=0.05)


def sync(sandbox: Sandbox, directory: Directory) -> SyncReport:
    request = SyncRequest(
        integration=INTEGRATION, spec=SPEC, token=sandbox.token, okta_url=sandbox.url
    )
    return asyncio.run(run_sync(request, directory, Settings(), client_factory=quick_client))


@pytest.fixture
def directory(database_url: str) -> Iterator[Directory]:
    with Directory.open(database_url) as opened:
        yield opened


def fault_free(sandbox: Sandbox, tmp_path: Path) -> dict[str, list[tuple[Any, ...]]]:
    with Directory.open(f"sqlite:///{tmp_path / 'fault-free.db'}") as clean:
        sync(sandbox, clean)
        return dump(clean, times=False)


def test_hostile_okta_answers_leave_the_directory_as_before_or_as_a_fault_free_run(
    sandbox_factory: Callable[..., Sandbox], directory: Directory, tmp_path: Path
) -> None:
    sandbox = sandbox_factory(users=120, groups=6, seed=21)
    expected = fault_free(sandbox, tmp_path)
    rng = random.Random(13)
    outcomes = []
    for round_number in range(8):
        if round_number % 3 == 2:
            # One retryable fault within the retry budget: whatever order the concurrent
            # listings take, this sync must come through it.
            sandbox.add_fault(
                Fault(kind=rng.choice(RETRYABLE_KINDS), on_request=rng.randint(1, 4), count=1)
            )
        for _ in range(rng.randint(1, 3) if round_number % 3 != 2 else 0):
            sandbox.add_fault(
                Fault(
                    kind=rng.choice(FAULT_KINDS),
                    on_request=rng.randint(1, 4),
                    count=rng.randint(1, 3),  # more than the retry budget: some syncs fail
                )
            )
        before = dump(directory)
        try:
            sync(sandbox, directory)
        except HrisError as exc:
            assert "\n" not in str(exc) and str(exc)
            assert dump(directory) == before
            outcomes.append(type(exc).__name__)
        else:
            assert dump(directory, times=False) == expected
            outcomes.append("succeeded")
        sandbox.clear_faults()
    print("outcomes:", outcomes)
    assert "succeeded" in outcomes and len(set(outcomes)) > 1  # the seed tries both


@pytest.mark.postgres
def test_a_postgresql_connection_killed_mid_apply_changes_nothing(
    sandbox_factory: Callable[..., Sandbox], postgres_url: str, tmp_path: Path
) -> None:
    """A trigger holds the apply in its first employees insert, where the test terminates the
    sync's backend: the mirror is written by then, the employees are not."""
    sandbox = sandbox_factory(users=60, groups=4, seed=22)
    expected = fault_free(sandbox, tmp_path)
    with Directory.open(postgres_url) as directory:
        with directory.engine.begin() as connection:
            connection.exec_driver_sql(
                "CREATE FUNCTION hold() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN PERFORM pg_sleep(30); RETURN NULL; END $$"
            )
            connection.exec_driver_sql(
                "CREATE TRIGGER hold BEFORE INSERT ON employees "
                "FOR EACH STATEMENT EXECUTE FUNCTION hold()"
            )
        before = dump(directory)
        killed: list[int] = []

        def terminate_when_held() -> None:
            admin = sa.create_engine(postgres_url)
            deadline = time.monotonic() + 30
            with admin.connect() as connection:
                while not killed and time.monotonic() < deadline:
                    killed.extend(
                        connection.execute(
                            sa.text(
                                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                "WHERE wait_event = 'PgSleep' AND pid <> pg_backend_pid()"
                            )
                        ).scalars()
                    )
                    time.sleep(0.05)
            admin.dispose()

        killer = threading.Thread(target=terminate_when_held)
        killer.start()
        with pytest.raises(DirectoryError) as failure:
            sync(sandbox, directory)
        killer.join()
        assert killed == [True]
        assert "\n" not in str(failure.value)
        assert str(failure.value).startswith(f"cannot apply the sync of {INTEGRATION}: ")
        assert dump(directory) == before

        with directory.engine.begin() as connection:
            connection.exec_driver_sql("DROP TRIGGER hold ON employees")
        sync(sandbox, directory)
        assert dump(directory, times=False) == expected


def test_a_locked_sqlite_directory_fails_the_sync_in_one_line_and_changes_nothing(
    sandbox_factory: Callable[..., Sandbox],
    sqlite_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The busy timeout is 30 s in production; a second keeps the test short.
    monkeypatch.setattr(database, "SQLITE_BUSY_TIMEOUT_MS", 1000)
    sandbox = sandbox_factory(users=60, groups=4, seed=23)
    expected = fault_free(sandbox, tmp_path)
    with Directory.open(sqlite_url) as directory:
        before = dump(directory)
        other = sa.create_engine(sqlite_url)
        with other.connect() as connection:
            connection.exec_driver_sql("BEGIN IMMEDIATE")  # another writer, never finishing
            with pytest.raises(DirectoryError) as failure:
                sync(sandbox, directory)
            connection.exec_driver_sql("ROLLBACK")
        other.dispose()
        assert "database is locked" in str(failure.value) and "\n" not in str(failure.value)
        assert dump(directory) == before
        sync(sandbox, directory)
        assert dump(directory, times=False) == expected


@pytest.fixture
def relay() -> Iterator[Relay]:
    with running_relay(Relay(delay=0.01)) as running:
        yield running


@pytest.mark.slow
@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_kill_campaign_with_invitations(
    sandbox_factory: Callable[..., Sandbox],
    relay: Relay,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    backend: str,
) -> None:
    """Ten seeded SIGKILLs of ``okta-hris sync``, each on a fresh directory, rerun at once."""
    sandbox = sandbox_factory(users=60, groups=4, seed=24)
    manifest = write_manifest(tmp_path / "acme.yaml", relay.port)
    baseline = Sync(manifest, sandbox.url, f"sqlite:///{tmp_path / 'baseline.db'}")
    started = time.monotonic()
    assert baseline.run().returncode == 0
    span = time.monotonic() - started
    expected = outcome(baseline.database)
    rng = random.Random(2026)
    windows = 0
    for trial in range(10):
        if backend == "sqlite":
            url = f"sqlite:///{tmp_path / f'trial{trial}.db'}"
        else:
            url = request.getfixturevalue("postgres_admin_url")
            url = _fresh_postgres(url, f"kill{trial}")
        report = kill_and_rerun(Sync(manifest, sandbox.url, url), relay, rng, span)
        print(f"{backend} trial {trial}: {report}")
        assert outcome(url) == expected
        windows += len(report.window)
    print(f"{backend}: 10 kills, {windows} in the documented window")


def _fresh_postgres(admin_url: str, name: str) -> str:
    database_name = f"hris_campaign_{name}_{random.randrange(1 << 30)}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{database_name}"')
    admin.dispose()
    return sa.make_url(admin_url).set(database=database_name).render_as_string(hide_password=False)
