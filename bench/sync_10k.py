"""Okta requests and wall time of a full and an incremental sync of a large org.

Reproduce with:

    .venv/bin/python bench/sync_10k.py                    # 10,000 users, 200 groups, SQLite
    .venv/bin/python bench/sync_10k.py --database postgresql://postgres@127.0.0.1:5432/test

The Okta side is the bundled sandbox in its own process on loopback, with Okta's default rate
limits, so the figures measure the engine and the directory, not a network. Each phase's time
(load the directory state, fetch from Okta, plan, apply) is printed too. Between the two syncs
``--changes`` users and ``--memberships`` percent of the team memberships are changed through
Okta's write API (the incremental sync reads those from the System Log).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import httpx

from okta_hris.cli.common import run_coroutine
from okta_hris.directory.store import Directory
from okta_hris.resource.spec import OktaIntegrationSpec
from okta_hris.settings import Settings
from okta_hris.sync.engine import SyncReport, SyncRequest, run_sync
from sandbox_process import TOKEN, start_sandbox

KEY = "bench/acme"
SPEC = OktaIntegrationSpec.model_validate(
    {"okta": {"subdomain": "bench", "tokenSecretRef": {"name": "okta"}}}
)


def timed_sync(url: str, directory: Directory) -> tuple[SyncReport, float]:
    request = SyncRequest(integration=KEY, spec=SPEC, token=TOKEN, okta_url=url)
    started = time.perf_counter()
    report = run_coroutine(run_sync(request, directory, Settings()))
    return report, time.perf_counter() - started


def change_users(url: str, directory: Directory, count: int) -> None:
    with httpx.Client(base_url=url, headers={"Authorization": f"SSWS {TOKEN}"}) as okta:
        active = [r.okta_id for r in directory.list_employees(integration=KEY, active=True)]
        for n, okta_id in enumerate(active[:count]):
            okta.post(f"/api/v1/users/{okta_id}", json={"profile": {"city": f"Town {n}"}})


def change_memberships(url: str, directory: Directory, percent: float) -> int:
    """Add and remove ``percent`` of the org's team memberships (half each) through Okta's
    write API; returns how many changed."""
    rng = random.Random(7)
    rows = directory.list_employees(integration=KEY, active=True)
    with httpx.Client(base_url=url, headers={"Authorization": f"SSWS {TOKEN}"}) as okta:
        listing = {"filter": 'type eq "OKTA_GROUP"', "limit": 10_000}
        groups = okta.get("/api/v1/groups", params=listing).json()
        group_ids = {g["profile"]["name"]: g["id"] for g in groups}
        members = [(row.okta_id, group_ids[team]) for row in rows for team in row.teams]
        count = round(len(members) * percent / 100)
        for okta_id, group_id in rng.sample(members, count // 2):
            write(okta, "DELETE", f"/api/v1/groups/{group_id}/users/{okta_id}")
        for _ in range(count - count // 2):
            okta_id, group_id = rng.choice(rows).okta_id, rng.choice(list(group_ids.values()))
            write(okta, "PUT", f"/api/v1/groups/{group_id}/users/{okta_id}")
    return count


def write(okta: httpx.Client, method: str, path: str) -> None:
    """One write, waiting out the groups bucket's rate limit (writes share it with reads)."""
    while (response := okta.request(method, path)).status_code == 429:
        reset = float(response.headers.get("X-Rate-Limit-Reset", time.time() + 1))
        time.sleep(max(0.1, reset - time.time()))
    response.raise_for_status()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--groups", type=int, default=200)
    parser.add_argument("--changes", type=int, default=50, help="users changed in between")
    parser.add_argument(
        "--memberships", type=float, default=1.0, help="%% of memberships changed in between"
    )
    parser.add_argument("--database", default=None)
    args = parser.parse_args()

    process, url = start_sandbox(args.users, args.groups)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            db_url = args.database or f"sqlite:///{Path(tmp) / 'bench.db'}"
            with Directory.open(db_url) as directory:
                full, full_s = timed_sync(url, directory)
                change_users(url, directory, args.changes)
                moved = change_memberships(url, directory, args.memberships)
                incremental, incremental_s = timed_sync(url, directory)
    finally:
        process.terminate()
        process.wait()

    print(f"org: {args.users:,} users, {args.groups} groups; directory: {db_url.split(':')[0]}")
    print(f"between the syncs: {args.changes} users and {moved} memberships changed")
    for label, report, seconds in (
        ("full", full, full_s),
        ("incremental", incremental, incremental_s),
    ):
        phases = ", ".join(f"{k} {v:.2f}" for k, v in report.timings.items())
        print(
            f"{label:>12} sync: {seconds:5.2f} s ({phases}); "
            f"{report.stats.api_requests} Okta requests, {report.stats.fetched:,} users fetched, "
            f"{report.stats.created:,} created, {report.stats.updated:,} updated, "
            f"{report.stats.rate_limited} rate limited"
        )
    options = " ".join(f"--{k} {v}" for k, v in vars(args).items() if v is not None)
    print(f"reproduce: .venv/bin/python bench/sync_10k.py {options}")


if __name__ == "__main__":
    main()
