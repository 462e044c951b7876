"""An Event sync of a large org: what one hook delivery costs once the directory is full.

Reproduce with::

    .venv/bin/python bench/event_sync_scale.py                     # 20,000 users, both backends
    .venv/bin/python bench/event_sync_scale.py --users 100000 --no-postgresql

The bundled sandbox runs in its own process (``sandbox_process.py``) with U users and U/50
groups and its rate limits off (an Event sync makes a request or two; the full sync that fills
the directory first is not what is measured). For SQLite (a scratch file) and PostgreSQL (a
scratch database) the integration is synced in full once, then for each change:

- ``profile edit``: one user's city changed through Okta's write API, an event naming the user;
- ``membership add``: a user added to a team group, an event naming the user and the group
  (the team groups are listed and that group's members listed again);

an Event sync of those events runs twice: from its part of the directory (what the operator
does: the named users' rows, everyone else counted from the stored tallies), and from the whole
state, as every Event sync did before (the tallies marked stale first, as a directory of the
release before them is). Each row has the sync's wall, its phases, the Okta requests it made,
and its peak RSS over the RSS before it (VmHWM reset first: ``/proc/self/clear_refs``).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import sqlalchemy as sa

from directory_apply import scratch_postgresql
from okta_hris.directory import schema
from okta_hris.directory.store import Directory
from okta_hris.domain.events import EventBatch
from okta_hris.settings import Settings
from okta_hris.sync.engine import SyncReport, SyncRequest, run_sync
from operator_memory import reset_high_water_mark, status_kib
from sandbox_process import TOKEN, start_sandbox
from sync_10k import KEY, SPEC

CHANGES = ("profile edit", "membership add")
PATHS = ("its part", "whole state")


@dataclass(frozen=True)
class Row:
    backend: str
    change: str
    path: str
    seconds: float
    requests: int
    timings: dict[str, float]
    peak_over_mib: float


def rss_mib(field_name: str) -> float:
    kib = status_kib(Path("/proc/self/status").read_text(), field_name)
    return (kib or 0) / 1024


def event_sync(url: str, directory: Directory, batch: EventBatch) -> tuple[SyncReport, float]:
    request = SyncRequest(integration=KEY, spec=SPEC, token=TOKEN, okta_url=url, events=batch)
    started = time.perf_counter()
    report = asyncio.run(run_sync(request, directory, Settings()))
    return report, time.perf_counter() - started


def stale_tallies(directory: Directory) -> None:
    with directory.engine.begin() as connection:
        connection.execute(
            sa.update(schema.integrations)
            .where(schema.integrations.c.integration == KEY)
            .values(tallies_hash=None)
        )


def change(okta: httpx.Client, which: str, n: int, directory: Directory) -> EventBatch:
    """Make the change in Okta; the events it writes, as a hook delivers them, name these."""
    active = [r for r in directory.list_employees(integration=KEY, active=True)]
    user = active[n].okta_id
    if which == "profile edit":
        okta.post(f"/api/v1/users/{user}", json={"profile": {"city": f"Town {n}"}})
        return EventBatch(user_ids=frozenset({user}), events=1)
    listing = {"filter": 'type eq "OKTA_GROUP"', "limit": 10_000}
    team = sorted(g["id"] for g in okta.get("/api/v1/groups", params=listing).json())[n]
    okta.put(f"/api/v1/groups/{team}/users/{user}").raise_for_status()
    return EventBatch(user_ids=frozenset({user}), group_ids=frozenset({team}), events=1)


def measure(backend: str, url: str, okta_url: str) -> list[Row]:
    found: list[Row] = []
    with Directory.open(url) as directory:
        asyncio.run(
            run_sync(SyncRequest(integration=KEY, spec=SPEC, token=TOKEN, okta_url=okta_url),
                     directory, Settings())
        )  # fmt: skip
        with httpx.Client(base_url=okta_url, headers={"Authorization": f"SSWS {TOKEN}"}) as okta:
            for n, (which, path) in enumerate((c, p) for c in CHANGES for p in PATHS):
                batch = change(okta, which, n, directory)
                if path == "whole state":
                    stale_tallies(directory)
                gc.collect()
                before = rss_mib("VmRSS")
                reset_high_water_mark()
                report, seconds = event_sync(okta_url, directory, batch)
                assert report.mode == "Event", report.mode
                found.append(
                    Row(
                        backend,
                        which,
                        path,
                        seconds,
                        report.stats.api_requests,
                        dict(report.timings),
                        # The mark restarts at the RSS now, which may be a little below before.
                        max(0.0, rss_mib("VmHWM") - before),
                    )
                )
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument(
        "--postgresql",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        help="PostgreSQL server for the scratch database",
    )
    parser.add_argument("--no-postgresql", action="store_true")
    args = parser.parse_args()
    sandbox, okta_url = start_sandbox(args.users, max(1, args.users // 50), "--no-rate-limits")
    rows: list[Row] = []
    try:
        with tempfile.TemporaryDirectory() as scratch:
            sqlite = f"sqlite:///{Path(scratch) / 'directory.db'}"
            rows += measure("SQLite", sqlite, okta_url)
        if not args.no_postgresql:
            url, drop = scratch_postgresql(args.postgresql)
            try:
                rows += measure("PostgreSQL", url, okta_url)
            finally:
                drop()
    finally:
        sandbox.kill()
        sandbox.wait()
    print(f"org: {args.users:,} users, {max(1, args.users // 50):,} groups\n")
    print(
        "| backend | change | read of the directory | wall | Okta requests | phases | peak RSS over before |"
    )
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        phases = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in row.timings.items())
        print(
            f"| {row.backend} | {row.change} | {row.path} | {row.seconds:.2f} s | {row.requests} "
            f"| {phases} | {row.peak_over_mib:.0f} MiB |"
        )
    print("\nreproduce: .venv/bin/python bench/event_sync_scale.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
