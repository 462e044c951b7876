"""Okta requests and wall time of a full and an incremental sync of a large org.

Reproduce with:

    .venv/bin/python bench/sync_10k.py                    # 10,000 users, 200 groups, SQLite
    .venv/bin/python bench/sync_10k.py --database postgresql://postgres@127.0.0.1:5432/test

The Okta side is the bundled sandbox on loopback with its default (Okta's) rate limits, so the
figures measure the engine and the directory, not a network.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import httpx

from okta_hris.config import Settings
from okta_hris.directory.store import Directory
from okta_hris.sandbox import SandboxConfig, run_sandbox
from okta_hris.spec import OktaIntegrationSpec
from okta_hris.sync.engine import SyncReport, SyncRequest, run_sync

SPEC = OktaIntegrationSpec.model_validate(
    {"okta": {"subdomain": "bench", "tokenSecretRef": {"name": "okta"}}}
)


def timed_sync(url: str, token: str, directory: Directory) -> tuple[SyncReport, float]:
    request = SyncRequest(integration="bench/acme", spec=SPEC, token=token, okta_url=url)
    started = time.perf_counter()
    report = asyncio.run(run_sync(request, directory, Settings()))
    return report, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--groups", type=int, default=200)
    parser.add_argument(
        "--changes", type=int, default=50, help="users changed before the incremental sync"
    )
    parser.add_argument("--database", default=None)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database or f"sqlite:///{Path(tmp) / 'bench.db'}"
        config = SandboxConfig(users=args.users, groups=args.groups, seed=7)
        with run_sandbox(config) as sandbox, Directory.open(url) as directory:
            full, full_s = timed_sync(sandbox.url, sandbox.token, directory)
            with httpx.Client(
                base_url=sandbox.url, headers={"Authorization": f"SSWS {sandbox.token}"}
            ) as okta:
                ids = [r.okta_id for r in directory.list_employees(integration="bench/acme")]
                for n, okta_id in enumerate(ids[: args.changes]):
                    okta.post(f"/api/v1/users/{okta_id}", json={"profile": {"city": f"Town {n}"}})
            incremental, incremental_s = timed_sync(sandbox.url, sandbox.token, directory)

    print(f"org: {args.users:,} users, {args.groups} groups; directory: {url.split('://')[0]}")
    for label, report, seconds in (
        ("full", full, full_s),
        ("incremental", incremental, incremental_s),
    ):
        print(
            f"{label:>12} sync: {seconds:6.2f} s wall, {report.stats.api_requests:5d} Okta requests, "
            f"{report.stats.fetched:6,} users fetched, {report.stats.created:6,} created, "
            f"{report.stats.updated:4,} updated, {report.stats.rate_limited} rate limited"
        )
    print(
        "reproduce: .venv/bin/python bench/sync_10k.py "
        + " ".join(f"--{k} {v}" for k, v in vars(args).items() if v is not None)
    )


if __name__ == "__main__":
    main()
