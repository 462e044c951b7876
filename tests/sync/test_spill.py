"""A long user listing keeps its profiles in a temporary file until the apply (``Spill``): the
sync writes what it would have written from memory, keeps them in memory when no file can be
made, and fails whole when the file cannot be read back. The sandbox over HTTP, a real
directory on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import errno
import logging
import pickle
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from okta_hris import memory
from okta_hris.directory import schema
from okta_hris.directory.store import Directory
from okta_hris.domain.changes import OktaUserRecord
from okta_hris.errors import SpillLost
from okta_hris.memory import Spill
from okta_hris.sandbox import Sandbox
from okta_hris.settings import Settings
from okta_hris.sync.engine import SyncReport, SyncRequest, run_sync
from tests.support.directory import recent_runs
from tests.sync.test_engine import spec

SPILLED = "Okta profiles wait in a temporary file"
IN_MEMORY = "Okta profiles stay in memory"
SPEC = spec()


@pytest.fixture
def directory(database_url: str) -> Iterator[Directory]:
    with Directory.open(database_url) as opened:
        yield opened


def sync(
    sandbox: Sandbox, directory: Directory, integration: str, *, force_full: bool = False
) -> SyncReport:
    request = SyncRequest(
        integration=integration,
        spec=SPEC,
        token=sandbox.token,
        okta_url=sandbox.url,
        force_full=force_full,
    )
    return asyncio.run(run_sync(request, directory, Settings()))


def written(directory: Directory, integration: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row the integration has in the tables a sync writes, without the integration
    and the times of the sync."""
    times = {"first_synced_at", "last_synced_at", "deactivated_at"}
    tables = ("employees", "teams", "employee_teams", "okta_users", "okta_groups")
    found: dict[str, list[tuple[Any, ...]]] = {}
    with directory.engine.connect() as connection:
        for name in (*tables, "okta_group_members", "okta_user_tallies"):
            table = schema.metadata.tables[name]
            columns = [c for c in table.c if c.name != "integration" and c.name not in times]
            query = sa.select(*columns).where(table.c.integration == integration)
            found[name] = sorted(tuple(map(repr, row)) for row in connection.execute(query))
    return found


def messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "okta_hris.sync.engine"]


def test_a_sync_that_spills_writes_what_one_in_memory_writes(
    sandbox: Sandbox,
    directory: Directory,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="okta_hris.sync.engine")
    assert sync(sandbox, directory, "ops/in-memory").mode == "Full"
    assert SPILLED not in messages(caplog)  # 200 users: fewer than SPILL_AFTER

    monkeypatch.setattr(memory, "SPILL_AFTER", 1)
    caplog.clear()
    assert sync(sandbox, directory, "ops/spilled").mode == "Full"
    assert messages(caplog).count(SPILLED) == 1  # one file for the whole listing
    assert written(directory, "ops/spilled") == written(directory, "ops/in-memory")

    # And the same again after Okta changed: the next syncs read the spilled sync's mirror.
    with httpx.Client(
        base_url=sandbox.url, headers={"Authorization": f"SSWS {sandbox.token}"}
    ) as okta:
        users = okta.get("/api/v1/users", params={"limit": 3}).json()
        for n, user in enumerate(users):
            okta.post(f"/api/v1/users/{user['id']}", json={"profile": {"city": f"Spilltown {n}"}})
    monkeypatch.setattr(memory, "SPILL_AFTER", 2)
    for integration in ("ops/spilled", "ops/in-memory"):
        report = sync(sandbox, directory, integration)
        assert (report.mode, report.stats.updated) == ("Incremental", 3)
    assert written(directory, "ops/spilled") == written(directory, "ops/in-memory")

    # A full sync of the filled directory: the mirror it loads goes to a spill too.
    monkeypatch.setattr(memory, "SPILL_AFTER", 1)
    loaded = directory.load_state("ops/in-memory").okta_users
    assert loaded and all(record._spill is not None for record in loaded.values())
    caplog.clear()
    for integration in ("ops/spilled", "ops/in-memory"):
        report = sync(sandbox, directory, integration, force_full=True)
        assert (report.mode, report.stats.created, report.stats.updated) == ("Full", 0, 0)
    assert written(directory, "ops/spilled") == written(directory, "ops/in-memory")


def test_profiles_stay_in_memory_when_no_temporary_file_can_be_made(
    sandbox: Sandbox,
    directory: Directory,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    caplog.set_level(logging.INFO, logger="okta_hris.sync.engine")
    sync(sandbox, directory, "ops/in-memory")
    monkeypatch.setattr(memory, "SPILL_AFTER", 1)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no-such-folder"))
    assert sync(sandbox, directory, "ops/no-disk").mode == "Full"
    told = [m for m in messages(caplog) if m.startswith(IN_MEMORY)]
    assert len(told) == 1 and "\n" not in told[0]  # once a sync, not once a page
    assert written(directory, "ops/no-disk") == written(directory, "ops/in-memory")


def test_a_spill_that_cannot_be_read_back_fails_the_sync_and_writes_nothing(
    sandbox: Sandbox, directory: Directory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(memory, "SPILL_AFTER", 1)

    def lost(self: Spill, handle: int) -> bytes:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(Spill, "get", lost)
    with pytest.raises(SpillLost) as raised:
        sync(sandbox, directory, "ops/lost")
    message = str(raised.value)
    assert "temporary file of Okta profiles (Input/output error)" in message
    assert "\n" not in message
    assert all(rows == [] for rows in written(directory, "ops/lost").values())
    (run,) = recent_runs(directory, "ops/lost")
    assert run.outcome == "failed" and run.error == f"TemporaryFileLost: {message}"


# The records ------------------------------------------------------------------------------------


def record(n: int, **profile: Any) -> OktaUserRecord:
    return OktaUserRecord(
        id=f"00u{n}",
        status="ACTIVE",
        last_updated=datetime(2026, 1, n + 1, tzinfo=UTC),
        profile={"login": f"user{n}@example.com", **profile},
    )


def test_a_spilled_record_is_the_record_it_was() -> None:
    records = [record(1), record(2, city="Zürich", note="\U0001f600 " * 1000), record(3)]
    spill = Spill()
    try:
        spilled = OktaUserRecord.spilled(records, spill)
        assert spilled == records
        assert [hash(r) for r in spilled] == [hash(r) for r in records]
        assert [r.profile for r in spilled] == [r.profile for r in records]
        assert [r.profile_json for r in spilled] == [r.profile_json for r in records]
        assert spill.size == sum(len(r.profile_json) for r in records)
        assert pickle.loads(pickle.dumps(spilled[1])) == records[1]
        assert spilled[2].replace(status="SUSPENDED") == records[2].replace(status="SUSPENDED")
        assert repr(spilled[0]) == repr(records[0])
        with pytest.raises(AttributeError):
            spilled[0]._profile = b"{}"  # type: ignore[misc]
    finally:
        spill.close()


def test_a_spilled_record_whose_file_is_gone_says_so_in_one_line() -> None:
    spill = Spill()
    spilled = OktaUserRecord.spilled([record(1, secret="hunter2-profile-value")], spill)
    spill.close()
    with pytest.raises(SpillLost) as raised:
        _ = spilled[0].profile
    message = str(raised.value)
    assert "temporary file of Okta profiles" in message
    assert "\n" not in message and "hunter2" not in message
