"""Our syncs of a large org at Okta's rate limits, side by side with the naive SDK way (issue 12).

Reproduce with::

    .venv/bin/python bench/okta_scale.py                    # 20,000 users, 400 groups, 10 s window
    nice -n 19 .venv/bin/python bench/okta_scale.py --users 100000 --groups 2000 --window 60
    .venv/bin/python bench/okta_scale.py --profile          # and cProfile's top 15 of each sync
    .venv/bin/python bench/okta_scale.py --no-postgresql --json

One run prints one table, a row per run, all against the same org:

- the bundled sandbox in its own process (``counted_sandbox.py``) with Okta's default ratios
  (600 requests per window to ``/api/v1/users*``, 500 to ``/api/v1/groups*``, 120 to the
  System Log) over ``--window`` seconds, and a token allowed ``--token-share`` of each bucket.
  Its own count of the requests it answered is the "Okta requests" column, not our client's;
  between runs every bucket starts a fresh window, so no run pays for the one before;
- full, SQLite: a full sync into an empty SQLite file; full, PostgreSQL: the same into a
  scratch database created on ``--postgresql`` (and dropped after);
- incremental, SQLite: after ``--changes`` percent of the users (a profile edit) and of the
  memberships (half removed, half added) changed through the sandbox's Okta write API
  (``sync_10k.change_users``, ``change_memberships``), a sync of the SQLite directory;
- naive official SDK: the ``okta`` package as its README shows it, every user listed, then
  ``/api/v1/users/{id}/groups`` per user, one after the other. Only ``--naive-sample`` users
  (default: three windows' worth of the users bucket) are asked for their groups; their
  requests and time are scaled up to every user listed (linearly: the sample spans several
  windows, so it goes at the pace the limit allows, as the whole would). The SDK lists users
  as Okta's default listing does, without the deprovisioned ones.

Each run is a child process of its own (``scale_children.py``, which imports what the sync
needs and not this script's sandbox, Kubernetes and kopf), so its peak RSS is its own (``VmHWM``
of the child's process image, read by the child as it ends: ``ru_maxrss`` would count the
parent's RSS at the fork, which after the changes are written holds every employee); its wall
is the sync's, from the call to the report (the child's start-up and imports are not in it).

The rate-limit bound is the least time Okta's limits allow for the requests the sandbox
counted: a bucket's window opens with its first request, so n requests to a bucket of L per
window need at least ⌊(n - 1) / L⌋ windows after the first; the bound is the largest over
the buckets (0 when every bucket fits one window: then the ratio is not shown). Under the table,
where the time went: the engine's phases (load, fetch, plan, apply), the CPU seconds of the
child and its rate-limit waits; with ``--profile`` each sync runs under cProfile and its 15
most expensive functions (cumulative) are printed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from counted_sandbox import CountedSandbox
from okta_hris.directory.store import Directory
from okta_hris.sandbox import RateLimitConfig
from operator_memory import fresh_directory
from scale_children import PROFILE_TOP, USERS_PER_PAGE
from sync_10k import change_memberships, change_users

POSTGRESQL = "postgresql://postgres@127.0.0.1:5432/postgres"
CHILDREN = str(Path(__file__).with_name("scale_children.py"))
FULL_SQLITE, FULL_POSTGRESQL = "full, SQLite", "full, PostgreSQL"
INCREMENTAL, NAIVE = "incremental, SQLite", "naive official SDK (extrapolated)"


# -- the parent ------------------------------------------------------------------------------------


@dataclass
class Run:
    name: str
    requests: dict[str, tuple[int, int]]  # bucket: (answered, refused with a 429), the sandbox's
    wall_s: float
    peak_rss_mib: float
    bound_s: float
    child: dict[str, Any] = field(default_factory=dict)
    note: str = ""

    @property
    def total_requests(self) -> int:
        return sum(ok + refused for ok, refused in self.requests.values())


def rate_limit_bound(requests: dict[str, tuple[int, int]], limits: RateLimitConfig) -> float:
    """The least time Okta's limits allow: ⌊(n - 1) / L⌋ windows after the first, per bucket."""
    windows = [
        (answered - 1) // limits.limit_for(bucket)
        for bucket, (answered, _) in requests.items()
        if answered
    ]
    return max(windows, default=0) * limits.window


def run_child(*arguments: str) -> tuple[dict[str, Any], float]:
    """``scale_children.py`` with ``arguments``: its JSON and its peak RSS in MiB."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        child = subprocess.Popen([sys.executable, CHILDREN, *arguments], stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)  # this child's rusage, not every child's
        if os.waitstatus_to_exitcode(status) != 0:
            err.seek(0)
            lines = err.read().decode(errors="replace").strip().splitlines() or ["no output"]
            raise SystemExit(f"{arguments[0]} exited with {status}: {lines[-1]}")
        out.seek(0)
        found = json.loads(out.read())
        return found, found.get("peak_rss_mib", usage.ru_maxrss / 1024)


def measure_sync(
    name: str, sandbox: CountedSandbox, database: str, args: argparse.Namespace, mode: str
) -> Run:
    sandbox.reset()
    flags = ["--profile"] if args.profile else []
    found, rss = run_child("--child-sync", database, sandbox.url, *flags)
    if found["mode"] != mode:
        raise SystemExit(f"{name}: the sync ran in mode {found['mode']}, not {mode}")
    requests = sandbox.counts()
    return Run(name, requests, found["wall_s"], rss, rate_limit_bound(requests, sandbox.limits),
               found)  # fmt: skip


def measure_naive(sandbox: CountedSandbox, args: argparse.Namespace) -> Run:
    """The SDK run on a sample of users asked for their groups, scaled up to every user.

    The listing is whole and timed as it is; the groups part is scaled by users / sample. The
    default sample is three windows' worth of the users bucket, so that the window the
    listing shared with it, or one the sample ends in partly used, is a third of it at most.
    """
    sample = max(1, min(args.users, args.naive_sample or 3 * sandbox.limits.limit_for("users")))
    sandbox.reset()
    found, rss = run_child("--child-naive", sandbox.url, str(sample))
    answered, refused = found["counted"] = sandbox.counts().get("users", (0, 0))
    asked, users = found["asked"], found["users"]
    list_pages = math.ceil(users / USERS_PER_PAGE)
    # Every user is asked for their groups: one request each (nobody is in 200 groups).
    scale = users / asked if asked else 1.0
    extrapolated = {"users": (list_pages + users, round(refused * scale))}
    wall = found["list_s"] + found["groups_s"] * scale
    note = (f"listed {users:,} users in {found['list_s']:.1f} s ({list_pages:,} pages), then asked "
            f"{asked:,} for their groups in {found['groups_s']:.1f} s ({answered:,} requests in "
            f"all, {refused} refused); that part scaled by {scale:.1f}; peak RSS of that run")  # fmt: skip
    return Run(NAIVE, extrapolated, wall, rss, rate_limit_bound(extrapolated, sandbox.limits),
               found, note)  # fmt: skip


def measure(args: argparse.Namespace) -> tuple[list[Run], dict[str, Any]]:
    limits = RateLimitConfig(window=args.window, token_share=args.token_share)
    started = time.perf_counter()
    sandbox = CountedSandbox(args.users, args.groups, limits)
    context: dict[str, Any] = {"sandbox_start_s": time.perf_counter() - started}
    runs: list[Run] = []
    try:
        with tempfile.TemporaryDirectory() as folder:
            with fresh_directory(None, Path(folder)) as sqlite:
                runs.append(measure_sync(FULL_SQLITE, sandbox, sqlite, args, "Full"))
                if args.postgresql:
                    with fresh_directory(args.postgresql, Path(folder)) as scratch:
                        runs.append(measure_sync(FULL_POSTGRESQL, sandbox, scratch, args, "Full"))
                sandbox.unlimited()  # the writes are not the benchmark's: they may not wait
                with Directory.open(sqlite) as directory:
                    changed_users = max(1, round(args.users * args.changes / 100))
                    change_users(sandbox.url, directory, changed_users)
                    changed_memberships = change_memberships(sandbox.url, directory, args.changes)
                context["changed"] = {"users": changed_users, "memberships": changed_memberships}
                runs.append(measure_sync(INCREMENTAL, sandbox, sqlite, args, "Incremental"))
            if not args.no_naive:
                runs.append(measure_naive(sandbox, args))
    finally:
        sandbox.close()
    return runs, context


# -- output ----------------------------------------------------------------------------------------

HEADERS = ("run", "Okta requests", "wall", "rate-limit bound", "wall / bound", "peak RSS")


def cells(run: Run, full: Run) -> tuple[str, ...]:
    requests = f"{run.total_requests:,}"
    if run.name == INCREMENTAL and full.total_requests:
        requests += f" ({run.total_requests / full.total_requests:.0%} of full)"
    ratio = f"{run.wall_s / run.bound_s:.2f}" if run.bound_s else "n/a (one window)"
    cpu = run.child.get("cpu_s")
    if run.bound_s and cpu is not None and cpu > run.bound_s:
        ratio += f" (CPU {cpu:.0f} s)"
    return (run.name, requests, f"{run.wall_s:,.1f} s", f"{run.bound_s:,.0f} s", ratio,
            f"{run.peak_rss_mib:,.0f} MB")  # fmt: skip


def print_table(runs: list[Run]) -> None:
    print("| " + " | ".join(HEADERS) + " |")
    print("|" + "---|" * len(HEADERS))
    for run in runs:
        print("| " + " | ".join(cells(run, runs[0])) + " |")


def describe_sync(run: Run) -> str:
    child = run.child
    phases = ", ".join(f"{phase} {seconds:.1f} s" for phase, seconds in child["timings"].items())
    buckets = ", ".join(f"{bucket} {ok:,}" + (f" (+{refused} 429)" if refused else "")
                        for bucket, (ok, refused) in sorted(run.requests.items()))  # fmt: skip
    return (f"{run.name}: {phases}; CPU {child['cpu_s']:.1f} s, of which garbage collection "
            f"{child['gc_s']:.1f} s ({child['gc_full']} full); "
            f"{child['rate_limit_waits']} rate-limit waits ({child['rate_limit_wait_s']:.1f} s); "
            f"requests by bucket: {buckets} (our client counted {child['client_requests']:,})")  # fmt: skip


def print_report(runs: list[Run], context: dict[str, Any], args: argparse.Namespace) -> None:
    limits = RateLimitConfig(window=args.window, token_share=args.token_share)
    per_window = ", ".join(f"{bucket} {limits.limit_for(bucket)}"
                           for bucket in ("users", "groups", "logs"))  # fmt: skip
    print(f"org: {args.users:,} users, {args.groups:,} groups (sandbox started in "
          f"{context['sandbox_start_s']:.1f} s); Okta's limits per {args.window:g} s window "
          f"for the token: {per_window}")  # fmt: skip
    changed = context["changed"]
    print(f"incremental after {changed['users']:,} users and {changed['memberships']:,} "
          f"memberships changed ({args.changes:g}% each)\n")  # fmt: skip
    print_table(runs)
    print("\nwhere the time went:")
    for run in runs:
        print(f"  {describe_sync(run) if run.name != NAIVE else f'{run.name}: {run.note}'}")
    for run in runs:
        if run.child.get("profile"):
            print(f"\ncProfile of {run.name}, top {PROFILE_TOP} by cumulative time:")
            print(run.child["profile"])
    print(f"\nreproduce: .venv/bin/python bench/okta_scale.py {' '.join(reproduce(args))}")


def reproduce(args: argparse.Namespace) -> Iterator[str]:
    yield from ("--users", str(args.users), "--groups", str(args.groups))
    yield from ("--window", f"{args.window:g}", "--changes", f"{args.changes:g}")
    if args.token_share != 1.0:
        yield from ("--token-share", f"{args.token_share:g}")
    if not args.postgresql:
        yield "--no-postgresql"
    if args.no_naive:
        yield "--no-naive"
    if args.naive_sample:
        yield from ("--naive-sample", str(args.naive_sample))


# -- the command line ------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--groups", type=int, default=400)
    parser.add_argument("--window", type=float, default=10.0,
                        help="seconds of Okta's rate-limit window (Okta: 60; default 10)")  # fmt: skip
    parser.add_argument("--token-share", type=float, default=1.0,
                        help="share of each bucket the token may use (Okta's default 0.5)")  # fmt: skip
    parser.add_argument("--changes", type=float, default=1.0,
                        help="percent of users and of memberships changed (default 1)")  # fmt: skip
    parser.add_argument("--postgresql", default=POSTGRESQL,
                        help=f"PostgreSQL server for the scratch database (default {POSTGRESQL})")  # fmt: skip
    parser.add_argument("--no-postgresql", dest="postgresql", action="store_const", const=None)
    parser.add_argument("--no-naive", action="store_true", help="leave the SDK run out")
    parser.add_argument("--naive-sample", type=int, default=None, metavar="USERS",
                        help="users the SDK run asks for their groups (default: 3 windows' worth)")  # fmt: skip
    parser.add_argument("--profile", action="store_true", help="cProfile each sync")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    runs, context = measure(args)
    if args.json:
        print(json.dumps({"context": context, "runs": [asdict(run) for run in runs]}, indent=2))
    else:
        print_report(runs, context, args)


if __name__ == "__main__":
    main()
