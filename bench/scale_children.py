"""The children of ``okta_scale.py``: one sync, or the naive SDK way, each in a process of its own.

A child imports only what its run needs, as ``okta-hris sync`` would: the table's peak RSS is
the sync's, not the benchmark's (the parent's sandbox, Kubernetes and kopf imports are 30 MB).
Run by ``okta_scale.py``, not by hand::

    python bench/scale_children.py --child-sync DATABASE OKTA_URL [--profile]
    python bench/scale_children.py --child-naive OKTA_URL SAMPLE

Each prints its figures as one JSON object.
"""

from __future__ import annotations

import asyncio
import cProfile
import gc
import io
import json
import os
import pstats
import resource
import sys
import time
from typing import Any

from okta_hris.directory.store import Directory
from okta_hris.memory import tune_allocator
from sandbox_process import TOKEN
from sync_10k import timed_sync

PROFILE_TOP = 15
USERS_PER_PAGE = 200  # what the SDK's listing asks for, as our client does


class CollectionTimer:
    """Seconds the cyclic garbage collector ran, and how many full collections it made."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.full = 0
        self._start = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
            return
        self.seconds += time.perf_counter() - self._start
        self.full += info["generation"] == 2


def child_sync(database: str, okta_url: str, profile: bool) -> dict[str, Any]:
    """One sync as ``sync_10k.py`` runs it; its figures as JSON for the parent."""
    profiler = cProfile.Profile() if profile else None
    collections = CollectionTimer()
    gc.callbacks.append(collections)
    with Directory.open(database) as directory:
        cpu = time.process_time()  # every thread's: the apply runs in one of its own
        if profiler is not None:
            profiler.enable()
        report, seconds = timed_sync(okta_url, directory)
        if profiler is not None:
            profiler.disable()
    stats = report.stats
    return {
        "mode": report.mode,
        "wall_s": seconds,
        "cpu_s": time.process_time() - cpu,
        "timings": dict(report.timings),
        "gc_s": collections.seconds,
        "gc_full": collections.full,
        "client_requests": stats.api_requests,
        "rate_limit_waits": stats.rate_limit_waits,
        "rate_limit_wait_s": stats.rate_limit_wait_seconds,
        "fetched": stats.fetched,
        "created": stats.created,
        "updated": stats.updated,
        "profile": profile_text(profiler) if profiler is not None else None,
        "peak_rss_mib": peak_rss_mib(),
    }


def profile_text(profiler: cProfile.Profile) -> str:
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(PROFILE_TOP)
    lines = out.getvalue().splitlines()
    start = next((n for n, line in enumerate(lines) if line.lstrip().startswith("ncalls")), 0)
    return "\n".join(line for line in lines[start:] if line.strip())


def child_naive(okta_url: str, sample: int) -> dict[str, Any]:
    """The official SDK's way, timed: list every user, then ask ``sample`` of them their groups."""
    # The SDK accepts plain http (the sandbox on loopback) only with its testing switch on.
    os.environ["OKTA_TESTING_TESTINGDISABLEHTTPSCHECK"] = "true"
    from okta.client import Client
    from okta.pagination import PaginationHelper

    async def run() -> dict[str, Any]:
        # Retries: the SDK waits for X-Rate-Limit-Reset after a 429, up to this many times.
        config = {"orgUrl": okta_url, "token": TOKEN, "rateLimit": {"maxRetries": 100},
                  "cache": {"enabled": False}}  # fmt: skip
        async with Client(config) as client:
            started = time.perf_counter()
            users, response, error = await client.list_users(limit=USERS_PER_PAGE)
            while error is None and (
                after := PaginationHelper.extract_next_cursor(response.headers)
            ):
                page, response, error = await client.list_users(limit=USERS_PER_PAGE, after=after)
                users += page
            if error is not None:
                raise SystemExit(f"the SDK's user listing failed: {error}")
            listed = time.perf_counter()
            memberships = 0
            for user in users[:sample]:
                groups, _, error = await client.list_user_groups(user.id)
                if error is not None:
                    raise SystemExit(f"the SDK's /users/{{id}}/groups failed: {error}")
                memberships += len(groups)
            finished = time.perf_counter()
        asked = min(sample, len(users))
        return {"users": len(users), "asked": asked, "memberships": memberships,
                "list_s": listed - started, "groups_s": finished - listed,
                "cpu_s": time.process_time(), "peak_rss_mib": peak_rss_mib()}  # fmt: skip

    return asyncio.run(run())


def peak_rss_mib() -> float:
    """This process image's peak RSS (``VmHWM``: since its exec, unlike ``ru_maxrss``)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    tune_allocator()  # as the okta-hris command does before any of its commands
    if sys.argv[1:2] == ["--child-sync"]:
        database, okta_url, *flags = sys.argv[2:]
        print(json.dumps(child_sync(database, okta_url, profile="--profile" in flags)))
    elif sys.argv[1:2] == ["--child-naive"]:
        print(json.dumps(child_naive(sys.argv[2], int(sys.argv[3]))))
    else:
        raise SystemExit(f"usage: {sys.argv[0]} --child-sync DATABASE URL | --child-naive URL N")


if __name__ == "__main__":
    main()
