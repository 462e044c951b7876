"""Latency from an Okta write to its row in the directory, through Okta Event Hooks.

Reproduce with:

    .venv/bin/python bench/event_latency.py            # 200 changes; SQLite and PostgreSQL;
                                                       # debounce 2s and 0s; then with faults
    .venv/bin/python bench/event_latency.py --changes 50 --database sqlite --debounce 0s

Each scenario starts the bundled sandbox in its own process (Okta's default rate limits, its
0.5 s delivery batching) and ``okta-hris sync -f FILE --watch`` in another, with an hourly
interval, as a user runs it; registers the hook through the sandbox's Event Hooks API, as
``okta-hris hooks register`` does; then makes mixed changes (create, profile update,
deactivate, membership add, membership remove) through Okta's write API at ``--rate`` per
second, each to a different user, and polls the directory until each is visible. The fault
scenario drops, duplicates and reorders deliveries: changes not visible by the end are "lost"
until the periodic sync, which the bench then runs (``okta-hris sync -f FILE``) before it
counts what is still lost or regressed (visible once, then not). Okta requests per change are
the targeted syncs' requests, from the lines ``--watch`` prints.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import sqlalchemy as sa

from okta_hris.directory import schema
from okta_hris.directory.store import Directory
from okta_hris.domain.changes import DirectoryState
from okta_hris.domain.events import CONSUMED_EVENT_TYPES
from sandbox_process import TOKEN, start_sandbox

KEY = "bench/acme"
HOOK_SECRET = "Bearer bench-hook-secret"
POSTGRES_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
FAULTS = ("drop,p=0.3", "duplicate,p=0.2", "reorder,p=0.5")
KINDS = ("create", "update", "deactivate", "add", "remove")
_LISTENING = re.compile(r"listening for Okta event hooks at (http://\S+)")
_EVENT_SYNC = re.compile(r"^Event sync of .*?, (\d+) Okta requests")

Row = sa.Row[Any]
Check = Callable[[dict[str, Row]], bool]


@dataclass
class Change:
    kind: str
    user: str
    check: Check
    written: float
    visible: float | None = None


@dataclass
class Result:
    directory: str
    debounce: str
    faults: str
    changes: int
    p50: float | None
    p95: float | None
    max: float | None
    requests_per_change: float
    event_syncs: int
    lost_before_periodic: int
    lost: int
    regressed: int
    command: str = ""
    latencies: list[float] = field(default_factory=list, repr=False)


def manifest(path: Path, debounce: str) -> Path:
    path.write_text(
        f"""
apiVersion: v1
kind: Secret
metadata: {{name: okta, namespace: bench}}
stringData: {{token: {TOKEN}}}
---
apiVersion: v1
kind: Secret
metadata: {{name: okta-hook, namespace: bench}}
stringData: {{authorization: "{HOOK_SECRET}"}}
---
apiVersion: hris.dev/v1alpha1
kind: OktaIntegration
metadata: {{name: acme, namespace: bench}}
spec:
  okta: {{subdomain: bench, tokenSecretRef: {{name: okta}}}}
  sync:
    interval: 1h
    eventHooks: {{enabled: true, authSecretRef: {{name: okta-hook}}, debounce: {debounce}}}
"""
    )
    return path


class WatchProcess:
    """``okta-hris sync --watch``, its lines read as they come."""

    def __init__(self, file: Path, okta_url: str, database: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HRIS_", "OKTA_"))}
        env["HRIS_HOOKS_ADDRESS"] = "127.0.0.1:0"
        command = [sys.executable, "-m", "okta_hris", "sync", "-f", str(file), "--watch",
                   "--okta-url", okta_url, "--database", database]  # fmt: skip
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        assert self.process.stdout is not None
        self._reader = threading.Thread(target=self._read, args=(self.process.stdout,))
        self._reader.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, pattern: re.Pattern[str], timeout: float = 120) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.process.poll() is not None:
                    break
                continue
            self.seen.append(line)
            if match := pattern.search(line):
                return match
        self.stop()
        raise SystemExit(f"okta-hris sync --watch never printed {pattern.pattern!r}: {self.seen}")

    def stop(self) -> list[str]:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)
        self._reader.join(timeout=10)
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return self.seen


def register_hook(okta: httpx.Client, url: str) -> None:
    body = {
        "name": "HRIS directory",
        "events": {"type": "EVENT_TYPE", "items": list(CONSUMED_EVENT_TYPES)},
        "channel": {
            "type": "HTTP",
            "version": "1.0.0",
            "config": {
                "uri": url,
                "authScheme": {"type": "HEADER", "key": "Authorization", "value": HOOK_SECRET},
            },
        },
    }
    hook = okta.post("/api/v1/eventHooks", json=body)
    hook.raise_for_status()
    okta.post(f"/api/v1/eventHooks/{hook.json()['id']}/lifecycle/verify").raise_for_status()


def rows(directory: Directory) -> dict[str, Row]:
    """The columns the checks read, as a downstream app reads them: a light query, so that
    polling every 50 ms does not take the CPU the syncs being measured need."""
    table = schema.employees
    query = sa.select(
        table.c.okta_id, table.c.okta_status, table.c.active, table.c.city, table.c.teams
    ).where(table.c.integration == KEY)
    with directory.engine.connect() as connection:
        return {row.okta_id: row for row in connection.execute(query)}


class Writer:
    """The HR admin: one change of each kind in turn, each to a user of its own."""

    def __init__(self, okta: httpx.Client, state: DirectoryState, now: dict[str, Row]):
        self.okta = okta
        self.teams = {gid: team.name for gid, team in state.teams.items()}
        self.members = state.okta_members
        self.free = sorted(k for k, row in now.items() if row.okta_status == "ACTIVE")
        self.created = 0

    def change(self, kind: str) -> Change:
        if kind == "create":
            self.created += 1
            login = f"new{self.created}-{uuid.uuid4().hex[:6]}@example.com"
            profile = {"firstName": "New", "lastName": f"Hire {self.created}", "login": login,
                       "email": login, "countryCode": "DE"}  # fmt: skip
            response = self.okta.post(
                "/api/v1/users", params={"activate": "true"}, json={"profile": profile}
            )
            response.raise_for_status()
            user = str(response.json()["id"])
            return Change(kind, user, lambda r: user in r, time.perf_counter())
        user = self.free.pop()
        if kind == "update":
            city = f"Town {len(self.free)}"
            self._send("POST", f"/api/v1/users/{user}", json={"profile": {"city": city}})
            return Change(kind, user, lambda r: r[user].city == city, time.perf_counter())
        if kind == "deactivate":
            self._send("POST", f"/api/v1/users/{user}/lifecycle/deactivate")
            return Change(kind, user, lambda r: not r[user].active, time.perf_counter())
        member = {gid for gid, ids in self.members.items() if user in ids and gid in self.teams}
        if kind == "remove" and member:
            gid = sorted(member)[0]
            self._send("DELETE", f"/api/v1/groups/{gid}/users/{user}")
            name = self.teams[gid]
            return Change(kind, user, lambda r: name not in r[user].teams, time.perf_counter())
        gid = sorted(set(self.teams) - member)[0]
        self._send("PUT", f"/api/v1/groups/{gid}/users/{user}")
        name = self.teams[gid]
        return Change("add", user, lambda r: name in r[user].teams, time.perf_counter())

    def _send(self, method: str, path: str, **body: Any) -> None:
        self.okta.request(method, path, **body).raise_for_status()


def holds(change: Change, now: dict[str, Row]) -> bool:
    try:
        return change.check(now)
    except KeyError:  # the user has no row (yet)
        return False


def poll(directory: Directory, changes: list[Change], done: threading.Event) -> None:
    """Mark each change visible the first time the directory shows it."""
    while not done.is_set():
        now = rows(directory)
        seen = time.perf_counter()
        for change in list(changes):
            if change.visible is None and holds(change, now):
                change.visible = seen
        time.sleep(0.05)


def scenario(
    args: argparse.Namespace, label: str, database: str, debounce: str, faults: tuple[str, ...]
) -> Result:
    extra = [f"--hook-fault={fault}" for fault in faults]
    sandbox, okta_url = start_sandbox(args.users, args.groups, *extra, "--hook-fault-seed", "14")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            file = manifest(Path(tmp) / "bench.yaml", debounce)
            url = database if database != "sqlite" else f"sqlite:///{Path(tmp) / 'bench.db'}"
            watch = WatchProcess(file, okta_url, url)
            try:
                hook_url = watch.wait_for(_LISTENING)[1]
                watch.wait_for(re.compile(r"^Full sync"))
                with (
                    httpx.Client(
                        base_url=okta_url, headers={"Authorization": f"SSWS {TOKEN}"}, timeout=30
                    ) as okta,
                    Directory.open(url) as directory,
                ):
                    register_hook(okta, hook_url)
                    writer = Writer(okta, directory.load_state(KEY), rows(directory))
                    changes: list[Change] = []
                    done = threading.Event()
                    poller = threading.Thread(target=poll, args=(directory, changes, done))
                    poller.start()
                    for n in range(args.changes):
                        started = time.perf_counter()
                        changes.append(writer.change(KINDS[n % len(KINDS)]))
                        time.sleep(max(0.0, 1 / args.rate - (time.perf_counter() - started)))
                    deadline = time.perf_counter() + args.settle
                    while time.perf_counter() < deadline and any(
                        c.visible is None for c in changes
                    ):
                        time.sleep(0.1)
                    done.set()
                    poller.join()
                    lines = watch.stop()
                    lost_before = sum(1 for c in changes if c.visible is None)
                    if faults:  # the next periodic sync, the safety net
                        subprocess.run(
                            [
                                sys.executable,
                                "-m",
                                "okta_hris",
                                "sync",
                                "-f",
                                str(file),
                                "--okta-url",
                                okta_url,
                                "--database",
                                url,
                            ],
                            check=True,
                            capture_output=True,
                        )
                    final = rows(directory)
                    lost = sum(1 for c in changes if not holds(c, final) and c.visible is None)
                    regressed = sum(1 for c in changes if not holds(c, final) and c.visible)
            finally:
                watch.stop()
    finally:
        sandbox.send_signal(signal.SIGINT)
        sandbox.wait(timeout=30)
    latencies = sorted(c.visible - c.written for c in changes if c.visible is not None)
    requests = [int(m[1]) for line in lines if (m := _EVENT_SYNC.search(line))]
    return Result(
        directory=label,
        debounce=debounce,
        faults=" ".join(faults) or "none",
        changes=len(changes),
        p50=_quantile(latencies, 0.5),
        p95=_quantile(latencies, 0.95),
        max=latencies[-1] if latencies else None,
        requests_per_change=round(sum(requests) / max(1, len(changes)), 2),
        event_syncs=len(requests),
        lost_before_periodic=lost_before,
        lost=lost,
        regressed=regressed,
        latencies=latencies,
    )


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 3)
    return round(statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1], 3)


class ScratchPostgres:
    """A database of its own on the local PostgreSQL, dropped afterwards."""

    def __init__(self, admin_url: str) -> None:
        self.admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        self.name = f"hris_bench_{uuid.uuid4().hex[:8]}"
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{self.name}"')
        self.url = sa.make_url(admin_url).set(database=self.name).render_as_string(False)

    def drop(self) -> None:
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        self.admin.dispose()


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--groups", type=int, default=20)
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument("--rate", type=float, default=3.0, help="changes per second")
    parser.add_argument("--settle", type=float, default=30.0, help="seconds to wait at the end")
    parser.add_argument("--database", default="sqlite,postgres", help="sqlite, postgres or both")
    parser.add_argument("--debounce", default="2s,0s", help="comma-separated durations")
    parser.add_argument("--faults", choices=["on", "off"], default="on",
                        help=f"then a scenario with {' '.join(FAULTS)} (SQLite, debounce 0s)")  # fmt: skip
    parser.add_argument("--postgres-admin-url", default=POSTGRES_ADMIN)
    parser.add_argument("--json", action="store_true", help="one JSON document instead")
    args = parser.parse_args()
    command = "python bench/event_latency.py " + " ".join(sys.argv[1:])

    plan: list[tuple[str, str, tuple[str, ...]]] = [
        (db, debounce, ())
        for db in args.database.split(",")
        for debounce in args.debounce.split(",")
    ]
    if args.faults == "on":
        plan.append(("sqlite", "0s", FAULTS))
    results: list[Result] = []
    for db, debounce, faults in plan:
        if db == "postgres":
            scratch = ScratchPostgres(args.postgres_admin_url)
            try:
                results.append(scenario(args, db, scratch.url, debounce, faults))
            finally:
                scratch.drop()
        else:
            results.append(scenario(args, db, "sqlite", debounce, faults))
        results[-1].command = command
        print(f"done: {db}, debounce {debounce}, faults {' '.join(faults) or 'none'}",
              file=sys.stderr)  # fmt: skip

    if args.json:
        print(
            json.dumps(
                [{k: v for k, v in asdict(r).items() if k != "latencies"} for r in results],
                indent=2,
            )
        )
        return
    print(f"{args.changes} changes at {args.rate}/s, {args.users} users, interval 1h; seconds")
    header = (
        "directory",
        "debounce",
        "p50",
        "p95",
        "max",
        "req/change",
        "syncs",
        "lost*",
        "lost",
        "regressed",
        "faults",
    )
    print("  ".join(f"{h:>10}" for h in header[:-1]) + "  " + header[-1])
    for r in results:
        cells = (r.directory, r.debounce, _seconds(r.p50), _seconds(r.p95), _seconds(r.max),
                 f"{r.requests_per_change:.2f}", str(r.event_syncs), str(r.lost_before_periodic),
                 str(r.lost), str(r.regressed))  # fmt: skip
        print("  ".join(f"{c:>10}" for c in cells) + "  " + r.faults)
    print("lost*: not visible before the periodic sync; lost/regressed: after it (faults only)")
    print(f"command: .venv/bin/{command}")


if __name__ == "__main__":
    main()
