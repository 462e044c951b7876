"""Kill ``okta-hris sync`` with SIGKILL at seeded random moments, rerun it, and account for
every invitation the relay accepted (issue 13, item 6, and the fault campaign).

The relay (aiosmtpd, in a thread of its own so that the sync runs as a real child process)
records every message it accepts. After a kill, the *window* is the set of invitations the
relay accepted whose row does not say ``sent``: the documented at-least-once window of
docs/INVITATIONS.md (between the relay's 250 and our commit). A trial passes when

- the window after the kill holds at most one invitation (a sender claims one at a time),
- a rerun started right after a kill of the delivery phase sends everything still pending
  (a killed sender's claim is taken over at once, not after its lease),
- every invitation was accepted by the relay exactly once, apart from the window's, which
  was accepted twice with the same Message-ID, and
- the directory ends equal to that of a fault-free run.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from okta_hris.directory import Directory
from okta_hris.errors import HrisError
from tests.support.cli import cli_environ

INTEGRATION = "people-ops/acme"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
INVITATIONS = (
    "  invitations:\n    enabled: true\n    dashboardUrl: https://dashboard.example.com\n"
    "    from: People Ops <people-ops@example.com>\n    smtpSecretRef: {name: smtp}\n"
)


@dataclass
class Relay:
    """An SMTP relay on 127.0.0.1 that accepts everything, ``delay`` seconds per message."""

    delay: float = 0.0
    accepted: list[str] = field(default_factory=list)  # Message-IDs, in order
    # Called with each accepted Message-ID before the relay answers 250 (in the relay's thread).
    on_accept: Callable[[str], None] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        assert isinstance(envelope.content, bytes)
        message_id = str(message_from_bytes(envelope.content)["Message-ID"])
        with self.lock:
            self.accepted.append(message_id)
        if self.on_accept is not None:
            self.on_accept(message_id)
        return "250 2.0.0 queued"

    def snapshot(self) -> list[str]:
        with self.lock:
            return list(self.accepted)

    def clear(self) -> None:
        with self.lock:
            self.accepted.clear()


@contextmanager
def running_relay(relay: Relay) -> Iterator[Relay]:
    loop = asyncio.new_event_loop()
    started = threading.Event()
    servers: list[asyncio.Server] = []

    async def start() -> None:
        server = await loop.create_server(
            lambda: SMTP(relay, hostname="relay.test", loop=loop), "127.0.0.1", 0
        )
        relay.port = server.sockets[0].getsockname()[1]
        servers.append(server)
        started.set()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=10)
    started.wait(10)
    try:
        yield relay
    finally:

        async def stop() -> None:
            for server in servers:
                server.close()
                await server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def write_manifest(path: Path, relay_port: int) -> Path:
    smtp = (
        "apiVersion: v1\nkind: Secret\nmetadata: {name: smtp, namespace: people-ops}\n"
        f"stringData: {{host: 127.0.0.1, port: '{relay_port}', security: none}}\n"
    )
    path.write_text(
        (EXAMPLES / "okta-token-secret.yaml").read_text()
        + "\n---\n"
        + smtp
        + "---\n"
        + (EXAMPLES / "minimal.yaml").read_text()
        + INVITATIONS
    )
    return path


@dataclass(frozen=True)
class Outcome:
    """What a directory holds once the syncs are done, without times: comparable across runs."""

    employees: tuple[tuple[Any, ...], ...]
    invitations: tuple[tuple[str, str, str | None], ...]  # (okta_id, status, message_id)


def outcome(url: str) -> Outcome:
    with Directory.open(url, migrate=False) as directory:
        employees = tuple(
            (e.okta_id, e.okta_status, e.active, e.display_name, e.work_email, e.teams)
            for e in directory.list_employees(integration=INTEGRATION)
        )
        invitations = tuple(
            sorted(
                (r.okta_id, r.status, r.message_id)
                for r in directory.outbox.records(integration=INTEGRATION)
            )
        )
    return Outcome(tuple(sorted(employees)), invitations)


def in_window(url: str, accepted: list[str]) -> list[str]:
    """Invitations the relay accepted whose row does not say sent (yet)."""
    try:
        with Directory.open(url, migrate=False) as directory:
            records = directory.outbox.records(integration=INTEGRATION)
    except HrisError:  # killed before the schema existed
        return []
    sent = {r.message_id for r in records if r.status == "sent"}
    return sorted(set(accepted) - sent)


def sync_lease_held(url: str) -> bool:
    try:
        with Directory.open(url, migrate=False) as directory:
            return directory.leases.current(INTEGRATION) is not None
    except HrisError:
        return False


@dataclass
class Sync:
    """``okta-hris sync`` of one manifest into one directory, as a child process."""

    manifest: Path
    okta_url: str
    database: str

    @property
    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "okta_hris",
            "sync",
            "-f",
            str(self.manifest),
            "--okta-url",
            self.okta_url,
            "--database",
            self.database,
        ]

    @property
    def env(self) -> dict[str, str]:
        # A killed sync's lease lapses in a second, so a rerun waits for it no longer than that.
        return cli_environ({"HRIS_SYNC_LEASE_SECONDS": "1"})

    def run(self, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command, env=self.env, capture_output=True, text=True, timeout=timeout
        )

    def run_and_kill(self, after: float) -> float:
        """Start the sync, SIGKILL it ``after`` seconds later (if still running); the seconds
        it actually ran."""
        started = time.monotonic()
        process = subprocess.Popen(
            self.command, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            process.wait(timeout=after)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()  # reaped: a zombie would still look alive to the next sender
        return time.monotonic() - started


@dataclass
class TrialReport:
    killed_at: float
    accepted_before_kill: int  # messages the relay took before the kill (0: not delivering yet)
    window: list[str]
    lease_held: bool
    reruns: int
    duplicates: list[str]


def kill_and_rerun(sync: Sync, relay: Relay, rng: random.Random, span: float) -> TrialReport:
    """One trial on a fresh directory: a sync killed at a random moment of ``span`` seconds,
    then reruns until one succeeds. Asserts the guarantees of the module docstring."""
    relay.clear()
    killed_at = sync.run_and_kill(rng.uniform(0.2, span))
    accepted_before_kill = len(relay.snapshot())
    window = in_window(sync.database, relay.snapshot())
    lease_held = sync_lease_held(sync.database)
    assert len(window) <= 1, f"killed at {killed_at:.2f}s, {len(window)} accepted but unrecorded"

    reruns = 0
    while True:
        reruns += 1
        result = sync.run()
        if result.returncode == 0:
            break
        assert "another sync" in result.stderr and lease_held, result.stderr
        assert reruns < 5, result.stderr
        time.sleep(1.1)  # the killed sync's lease (HRIS_SYNC_LEASE_SECONDS=1) lapses
    assert "Traceback" not in result.stderr, result.stderr
    final = outcome(sync.database)
    pending = [i for i in final.invitations if i[1] != "sent"]
    assert pending == [], f"rerun left {len(pending)} pending"
    if not lease_held:
        assert reruns == 1  # right after a kill of the delivery phase: nothing waits a lease

    counts = Counter(relay.snapshot())
    duplicates = sorted(m for m, n in counts.items() if n > 1)
    assert all(counts[m] == 2 for m in duplicates)
    assert duplicates == window, (duplicates, window)
    assert sorted(counts) == sorted(m for _, _, m in final.invitations if m is not None)
    return TrialReport(killed_at, accepted_before_kill, window, lease_held, reruns, duplicates)
