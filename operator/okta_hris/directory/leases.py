"""Sync leases: at most one running sync per integration, across processes and hosts.

A sync takes its integration's lease before it reads anything and gives it back when it ends
(``services.IntegrationSync.run``); the operator and ``okta-hris sync`` share the one
``sync_leases`` row of an integration, so neither runs while the other does.

- *Taken atomically.* ``acquire`` is one ``INSERT ... ON CONFLICT DO UPDATE ... WHERE the
  lease has expired``: the insert, or the take-over of an expired lease, succeeds for exactly
  one of two racing syncs. On PostgreSQL the loser waits on the winner's row lock, then sees
  the live lease; on SQLite ``BEGIN IMMEDIATE`` serialises the two.
- *Expiring.* A lease lasts ``duration`` from its last renewal, and the holder renews it every
  quarter of that while it runs. A sync killed with SIGKILL (or a host that vanished) cannot
  release its lease: the next sync takes it over once it has expired, at most ``duration``
  later. Clocks are the hosts' own; a lease of minutes tolerates the skew of NTP-synced hosts.
- *Fenced.* A lease is only a courtesy to the next sync (a clear message instead of a wasted
  Okta fetch): a holder that stalled past its lease cannot double-apply either way, because
  ``Directory.apply`` refuses a plan computed from a state another apply has since replaced.

``Claimant`` identifies the process holding an invitation's lease (``outbox.py``), so that a
sender can take over at once the claims of a process of its own machine that has ended.
"""

from __future__ import annotations

import functools
import os
import secrets
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, select, update

from okta_hris.directory.schema import sync_leases
from okta_hris.directory.statements import Store, dialect_insert
from okta_hris.errors import SyncInProgress


@dataclass(frozen=True)
class SyncLease:
    """One sync's hold on its integration."""

    integration: str
    holder: str  # unique per sync run
    owner: str  # who holds it, for messages
    taken_at: datetime
    expires_at: datetime


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:  # not Linux, or /proc is not mounted
        return ""


def _start_time(pid: int) -> str:
    """When process ``pid`` started, in clock ticks since boot (``/proc/<pid>/stat`` field 22);
    "" when it is not running or cannot be seen. With the pid, it names one process: a pid
    the kernel has since given to another process has another start time."""
    stat = _read(f"/proc/{pid}/stat")
    # The command name (field 2) is in parentheses and may hold spaces and ")".
    fields = stat.rpartition(")")[2].split()
    if len(fields) <= 19 or fields[0] in ("Z", "X"):  # a zombie has ended: it sends nothing
        return ""
    return fields[19]


@functools.cache
def _machine() -> str:
    """The processes whose pids this process can check: same host name, same boot, same pid
    namespace. "" when that cannot be known (not Linux): then no claim is judged dead."""
    boot = _read("/proc/sys/kernel/random/boot_id")
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = ""
    if not boot or not namespace:
        return ""
    return f"{socket.gethostname()}/{boot}/{namespace}"


@dataclass(frozen=True)
class Claimant:
    """A sender process, as ``invitations.claimed_by`` records it: precisely enough that a
    later sender on the same machine can tell, at once, that it no longer runs (SIGKILL, OOM,
    a crash) and take its claims over instead of waiting for their lease to expire."""

    token: str  # random per sender run: two runs of one process are two claimants
    pid: int
    started: str
    machine: str

    @classmethod
    def current(cls) -> Claimant:
        pid = os.getpid()
        return cls(secrets.token_hex(8), pid, _start_time(pid), _machine())

    def encode(self) -> str:
        return f"{self.token} {self.pid} {self.started or '-'} {self.machine or '-'}"

    @classmethod
    def decode(cls, text: str) -> Claimant | None:
        token, _, rest = text.partition(" ")
        pid, _, rest = rest.partition(" ")
        started, _, machine = rest.partition(" ")
        if not token or not pid.isdigit():
            return None
        return cls(token, int(pid), started.strip("-"), machine.strip("-"))

    def gone(self) -> bool:
        """True only when certain that this claimant's process has ended: it ran on this
        machine and its pid is free or now another process's. Another machine's, or one that
        could not be identified, is never judged gone: its lease is waited out."""
        if not self.machine or not self.started or self.machine != _machine():
            return False
        return _start_time(self.pid) != self.started


def describe_age(seconds: float) -> str:
    """``12 s``, ``4 min``, ``3 h``: how long ago, as a person says it."""
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.0f} h"


class Leases(Store):
    """The ``sync_leases`` table: take, renew and release an integration's sync lease."""

    def acquire(
        self,
        integration: str,
        *,
        holder: str,
        owner: str,
        now: datetime,
        duration: timedelta,
    ) -> SyncLease:
        """Take the lease of ``integration``, or take over an expired one.

        Raises ``SyncInProgress`` naming the sync that holds a live lease, and
        ``DirectoryError`` when the database fails.
        """
        values = {
            "integration": integration,
            "holder": holder,
            "owner": owner,
            "taken_at": now,
            "expires_at": now + duration,
        }
        with self._writing(f"cannot take the sync lease of {integration}") as connection:
            insert = dialect_insert(connection, sync_leases).values(values)
            take = insert.on_conflict_do_update(
                index_elements=[sync_leases.c.integration],
                set_={name: insert.excluded[name] for name in values if name != "integration"},
                where=sync_leases.c.expires_at <= now,
            ).returning(sync_leases.c.holder)
            taken = connection.scalar(take)
            if taken == holder:
                return SyncLease(integration, holder, owner, now, now + duration)
            # On PostgreSQL the failed upsert still locks the row: it cannot vanish meanwhile.
            current = connection.execute(
                select(sync_leases).where(sync_leases.c.integration == integration)
            ).one_or_none()
        since = ""
        expiry = ""
        if current is not None:
            started = describe_age((now - current.taken_at).total_seconds())
            since = f" (started {started} ago by {current.owner})"
            # A holder killed without cleaning up never finishes: say when its lease lapses.
            left = describe_age((current.expires_at - now).total_seconds())
            expiry = f" (its lease lapses in {left} if it stopped without releasing it)"
        raise SyncInProgress(
            f"another sync of {integration} is running{since}; nothing was done: "
            f"try again when it has finished{expiry}"
        )

    def renew(self, lease: SyncLease, *, now: datetime, duration: timedelta) -> SyncLease | None:
        """Extend a lease still held; None when another sync has taken it over meanwhile."""
        with self._writing(f"cannot renew the sync lease of {lease.integration}") as connection:
            result = connection.execute(
                update(sync_leases)
                .where(
                    sync_leases.c.integration == lease.integration,
                    sync_leases.c.holder == lease.holder,
                )
                .values(expires_at=now + duration)
            )
        if result.rowcount != 1:
            return None
        return SyncLease(
            lease.integration, lease.holder, lease.owner, lease.taken_at, now + duration
        )

    def release(self, lease: SyncLease) -> None:
        """Give the lease back (a no-op when another sync has taken it over)."""
        with self._writing(f"cannot release the sync lease of {lease.integration}") as connection:
            connection.execute(
                delete(sync_leases).where(
                    sync_leases.c.integration == lease.integration,
                    sync_leases.c.holder == lease.holder,
                )
            )

    def current(self, integration: str) -> SyncLease | None:
        """The lease row of ``integration``, live or expired, if any."""
        with self._reading(f"cannot read the sync lease of {integration}") as connection:
            row = connection.execute(
                select(sync_leases).where(sync_leases.c.integration == integration)
            ).one_or_none()
        if row is None:
            return None
        return SyncLease(row.integration, row.holder, row.owner, row.taken_at, row.expires_at)
