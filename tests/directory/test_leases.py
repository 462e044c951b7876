"""Sync leases and the apply counter: two syncs of one integration never both apply.

The lease's clock is passed in, never read from the wall; the races are real threads on a
real SQLite file and a real PostgreSQL database.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import inspect, select, text

from okta_hris.directory import Directory, schema
from okta_hris.directory.database import (
    alembic_config,
    current_revision,
    head_revision,
    write_transaction,
)
from okta_hris.directory.leases import SyncLease
from okta_hris.errors import SyncInProgress

from .directory_samples import INTEGRATION, changes, employee

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def take(directory: Directory, holder: str, now: datetime = T0, owner: str = "") -> SyncLease:
    return directory.leases.acquire(
        INTEGRATION,
        holder=holder,
        owner=owner or f"okta-hris sync (pid 1 on {holder})",
        now=now,
        duration=MINUTE,
    )


def test_a_live_lease_refuses_a_second_sync_and_says_who_holds_it(directory: Directory) -> None:
    take(directory, "a", owner="okta-hris sync (pid 4242 on build-7)")
    with pytest.raises(SyncInProgress) as refused:
        take(directory, "b", T0 + timedelta(seconds=12))
    assert str(refused.value).startswith(
        f"another sync of {INTEGRATION} is running "
        "(started 12 s ago by okta-hris sync (pid 4242 on build-7))"
    )
    assert refused.value.reason == "SyncInProgress" and not refused.value.permanent
    current = directory.leases.current(INTEGRATION)
    assert current is not None and current.holder == "a"


def test_a_released_lease_is_free_and_other_integrations_never_wait(directory: Directory) -> None:
    lease = take(directory, "a")
    directory.leases.acquire(
        "people-ops/other", holder="c", owner="x", now=T0, duration=MINUTE
    )  # another integration: its own lease
    directory.leases.release(lease)
    assert directory.leases.current(INTEGRATION) is None
    assert take(directory, "b", T0 + timedelta(seconds=1)).holder == "b"


def test_an_expired_lease_is_taken_over_and_its_holder_cannot_renew_or_release_it(
    directory: Directory,
) -> None:
    killed = take(directory, "killed")
    # Renewed once, then the process died: the lease lasts a minute from the last renewal.
    renewed = directory.leases.renew(killed, now=T0 + timedelta(seconds=30), duration=MINUTE)
    assert renewed is not None and renewed.expires_at == T0 + timedelta(seconds=90)
    with pytest.raises(SyncInProgress):
        take(directory, "next", T0 + timedelta(seconds=89))

    successor = take(directory, "next", T0 + timedelta(seconds=90))
    assert successor.holder == "next"
    assert directory.leases.renew(killed, now=T0 + timedelta(seconds=91), duration=MINUTE) is None
    directory.leases.release(killed)  # too late: it is no longer the holder
    current = directory.leases.current(INTEGRATION)
    assert current is not None and current.holder == "next"


def test_racing_syncs_take_the_lease_exactly_once(directory: Directory) -> None:
    start = threading.Barrier(6)
    taken: list[str] = []
    errors: list[BaseException] = []

    def race(holder: str) -> None:
        start.wait()
        try:
            taken.append(take(directory, holder).holder)
        except BaseException as exc:
            errors.append(exc)

    racers = [threading.Thread(target=race, args=(f"h{i}",)) for i in range(6)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join()

    assert len(taken) == 1
    assert len(errors) == 5 and all(isinstance(e, SyncInProgress) for e in errors), errors


def test_an_apply_computed_from_a_replaced_state_is_refused(directory: Directory) -> None:
    directory.apply(changes(employees_create=[employee("00u-ann")]))
    seen = directory.load_state(INTEGRATION).version
    ann_left = employee("00u-ann", active=False, deactivated_at=T0)
    first = changes(employees_update=[ann_left], base_version=seen)
    second = changes(employees_create=[employee("00u-bob")], base_version=seen)

    directory.apply(first)
    after_first = directory.load_state(INTEGRATION)
    assert after_first.version == seen + 1
    with pytest.raises(SyncInProgress, match="applied while this one ran"):
        directory.apply(second)
    assert directory.load_state(INTEGRATION) == after_first  # nothing of the second was written


def test_upgrade_from_0001_keeps_the_data_and_adds_leases(database_url: str) -> None:
    with Directory.open(database_url, migrate=False) as directory:
        config = alembic_config()
        with write_transaction(directory.engine) as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0001")
        with directory.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO integrations (integration, spec_hash) VALUES (:i, 'abc')"
                ).bindparams(i=INTEGRATION)
            )

    with Directory.open(database_url) as directory:
        with directory.engine.connect() as connection:
            assert current_revision(connection) == head_revision()
            assert "sync_leases" in inspect(connection).get_table_names()
            row = connection.execute(select(schema.integrations)).mappings().one()
        # 0003 clears the spec hash: the next sync is a Full one.
        assert (row["spec_hash"], row["sync_version"]) == (None, 0)
        assert directory.load_state(INTEGRATION).version == 0
        assert take(directory, "a").holder == "a"
        directory.apply(changes(employees_create=[employee("00u-ann")], base_version=0))
        assert directory.load_state(INTEGRATION).version == 1
