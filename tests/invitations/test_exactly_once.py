"""Invitations exactly once, but for the window SMTP leaves open (issue 13, item 6).

A sender claims one invitation at a time, just before sending it, records the relay's 250 in
its own commit, and names itself in the claim; a later sender on the same machine takes over
at once the claim of a process that has ended. Real processes (SIGKILL), an aiosmtpd relay,
SQLite and PostgreSQL.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from okta_hris.directory import schema
from okta_hris.directory.leases import Claimant
from okta_hris.directory.store import Directory
from okta_hris.invitations import DeliveryReport, deliver_pending
from okta_hris.sandbox import Sandbox
from tests.campaign.kill_rerun import (
    Relay,
    Sync,
    in_window,
    kill_and_rerun,
    outcome,
    running_relay,
    write_manifest,
)

from .support import INTEGRATION, Mailbox, employee, seed, settings, smtp_relay, smtp_settings

# A sender in another process: claims every due invitation, says so, then waits to be killed.
CLAIMER = textwrap.dedent(
    """
    import sys, time
    from datetime import UTC, datetime, timedelta
    from okta_hris.directory.leases import Claimant
    from okta_hris.directory.store import Directory
    with Directory.open(sys.argv[1], migrate=False) as directory:
        now = datetime.now(UTC)
        claimed = directory.outbox.claim_batch(
            sys.argv[2], now=now, lease_until=now + timedelta(minutes=10), limit=10,
            claimant=Claimant.current(),
        )
    print(len(claimed), flush=True)
    time.sleep(600)
    """
)


@pytest.fixture
def claimer(database_url: str) -> Iterator[Callable[[], subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []

    def start() -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, "-c", CLAIMER, database_url, INTEGRATION],
            stdout=subprocess.PIPE,
            text=True,
        )
        started.append(process)
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "1"  # it holds the one invitation
        return process

    yield start
    for process in started:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        process.wait()


def claimed_by(directory: Directory) -> str | None:
    with directory.engine.connect() as connection:
        return connection.scalar(sa.select(schema.invitations.c.claimed_by))


async def test_a_killed_senders_claim_is_taken_over_at_once(
    directory: Directory, mailbox: Mailbox, claimer: Callable[[], subprocess.Popen[str]]
) -> None:
    seed(directory, [employee("00u1")])
    other = claimer()
    held = claimed_by(directory)
    assert held is not None and f" {other.pid} " in held
    async with smtp_relay(mailbox) as port:
        smtp = smtp_settings(port)
        # Alive: its claim (ten minutes) is respected.
        assert await deliver_pending(directory.outbox, INTEGRATION, settings(), smtp) == (
            DeliveryReport(pending=1)
        )
        os.kill(other.pid, signal.SIGKILL)
        other.wait()
        # Dead: taken over now, not in ten minutes.
        report = await deliver_pending(directory.outbox, INTEGRATION, settings(), smtp)

    assert (report.sent, report.pending) == (1, 0)
    assert mailbox.recipients() == ["00u1@acme.example"]
    assert claimed_by(directory) is None


async def test_a_claim_from_another_machine_is_waited_out(
    directory: Directory, mailbox: Mailbox
) -> None:
    """Its process cannot be checked from here: only its lease's expiry frees the row."""
    seed(directory, [employee("00u1")])
    now = datetime.now(UTC)
    elsewhere = Claimant("feedbeef", 4242, "123", "build-7/boot/pid:[1]").encode()
    with directory.engine.begin() as connection:
        connection.execute(
            sa.update(schema.invitations).values(
                claimed_until=now + timedelta(minutes=5), claimed_by=elsewhere
            )
        )
    async with smtp_relay(mailbox) as port:
        smtp = smtp_settings(port)
        waiting = await deliver_pending(
            directory.outbox, INTEGRATION, settings(), smtp, now=lambda: now
        )
        later = now + timedelta(minutes=5, seconds=1)
        expired = await deliver_pending(
            directory.outbox, INTEGRATION, settings(), smtp, now=lambda: later
        )

    assert (waiting.sent, waiting.pending) == (0, 1)
    assert (expired.sent, expired.pending) == (1, 0)


def test_claimants_are_judged_gone_only_when_certain() -> None:
    me = Claimant.current()
    assert Claimant.decode(me.encode()) == me
    assert not me.gone()  # this very process
    assert Claimant.decode("garbage") is None
    if me.machine:  # Linux: a pid that is not running, on this machine, has ended
        free_pid = max(int(p) for p in os.listdir("/proc") if p.isdigit()) + 10_000
        assert Claimant("t", free_pid, "1", me.machine).gone()
        assert Claimant("t", me.pid, "1", me.machine).gone()  # the pid now names another start
    assert not Claimant("t", me.pid, "", me.machine).gone()  # start time unknown: not certain


@pytest.fixture
def relay() -> Iterator[Relay]:
    with running_relay(Relay(delay=0.01)) as running:
        yield running


def test_a_killed_sync_sends_every_invitation_once_but_the_documented_window(
    sandbox_factory: Callable[..., Sandbox], relay: Relay, tmp_path: Path
) -> None:
    """Seeded SIGKILLs of ``okta-hris sync`` with invitations on, each followed by a rerun at
    once (tests/campaign/kill_rerun.py says what each trial checks). The long campaign is in
    tests/campaign/test_fault_campaign.py."""
    sandbox = sandbox_factory(users=40, groups=4, seed=13)
    manifest = write_manifest(tmp_path / "acme.yaml", relay.port)
    baseline = Sync(manifest, sandbox.url, f"sqlite:///{tmp_path / 'baseline.db'}")
    started = time.monotonic()
    assert baseline.run().returncode == 0
    span = time.monotonic() - started  # kills fall anywhere in a whole run
    expected = outcome(baseline.database)
    rng = random.Random(6)
    for trial in range(3):
        sync = Sync(manifest, sandbox.url, f"sqlite:///{tmp_path / f'trial{trial}.db'}")
        report = kill_and_rerun(sync, relay, rng, span)
        print(f"trial {trial}: {report}")
        assert outcome(sync.database) == expected, report


def test_a_sync_killed_between_the_relays_250_and_its_commit_resends_only_that_one(
    sandbox_factory: Callable[..., Sandbox], relay: Relay, tmp_path: Path
) -> None:
    """The documented window, hit on purpose: as the relay accepts the first invitation, the
    test takes SQLite's write lock, so the sender's "sent" commit waits; the sync is killed
    there. The rerun sends that one again, with the same Message-ID, and every other once."""
    sandbox = sandbox_factory(users=20, groups=2, seed=14)
    manifest = write_manifest(tmp_path / "acme.yaml", relay.port)
    sync = Sync(manifest, sandbox.url, f"sqlite:///{tmp_path / 'directory.db'}")
    locker = sa.create_engine(sync.database)
    held = threading.Event()
    connections: list[sa.Connection] = []

    def lock_the_directory(message_id: str) -> None:
        if not connections:
            connection = locker.connect()
            connection.exec_driver_sql("BEGIN IMMEDIATE")  # the sender's commit now waits
            connections.append(connection)
            held.set()

    relay.on_accept = lock_the_directory
    process = subprocess.Popen(
        sync.command, env=sync.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        assert held.wait(60), "the sync never sent an invitation"
        time.sleep(0.5)  # the sender is in its "sent" commit, waiting for the lock
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    relay.on_accept = None
    connections[0].exec_driver_sql("ROLLBACK")
    connections[0].close()
    locker.dispose()

    (first,) = relay.snapshot()
    assert in_window(sync.database, relay.snapshot()) == [first]
    assert sync.run().returncode == 0
    accepted = relay.snapshot()
    assert accepted.count(first) == 2
    assert len(accepted) == len(set(accepted)) + 1  # every other invitation exactly once
    final = outcome(sync.database)
    assert {status for _, status, _ in final.invitations} == {"sent"}
    assert sorted(set(accepted)) == sorted(m for _, _, m in final.invitations if m)
