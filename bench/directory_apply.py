"""The directory side of a large sync, without Okta: plan, apply, reload and re-plan.

Reproduce with:

    .venv/bin/python bench/directory_apply.py --users 100000 --groups 2000
    .venv/bin/python bench/directory_apply.py --users 100000 --profile apply   # cProfile a phase

An org from the sandbox's generator (the one ``okta-hris sandbox`` serves) is turned into the
snapshot a full sync would fetch, in process, so the figures are of the directory and the
planner alone (``bench/okta_scale.py`` has the whole sync over HTTP). For SQLite (a scratch
file) and PostgreSQL (a scratch database) it times:

- plan: ``compute_plan`` of the whole org against an empty directory (the first full sync);
- apply: ``Directory.apply`` of that plan: every employee, team, membership and mirror row new;
- load: ``Directory.load_state`` of the result (what every later sync reads first);
- replan: ``compute_plan`` of the same snapshot against it, as a full sync that finds nothing
  changed does (every user mapped and compared, none written);
- replan, rows trusted: the same as an incremental sync plans it (``trust_rows``: the rows of
  users nothing moved under stand as they are).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import pstats
import random
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from sqlalchemy import create_engine, text

from okta_hris.directory.store import Directory
from okta_hris.domain.changes import DirectoryState, OktaGroupRecord, OktaUserRecord
from okta_hris.resource.spec import OktaIntegrationSpec
from okta_hris.sandbox.clock import Clock
from okta_hris.sandbox.generator import generate_org
from okta_hris.sync.plan import OktaSnapshot, SyncPlan, compute_plan

KEY = "bench/acme"
SPEC = OktaIntegrationSpec.model_validate(
    {"okta": {"subdomain": "bench", "tokenSecretRef": {"name": "okta"}}}
)
PHASES = ("plan", "apply", "load", "replan", "replan, rows trusted")
T = TypeVar("T")


def snapshot_of(users: int, groups: int, seed: int) -> OktaSnapshot:
    """What a full sync of the generated org fetches: its users and OKTA_GROUP groups."""
    org = generate_org(users=users, groups=groups, seed=seed, clock=Clock(), custom_attributes=())
    snapshot = OktaSnapshot()
    for user in org.users.values():
        snapshot.users[user.id] = OktaUserRecord(
            id=user.id,
            status=user.status,
            last_updated=datetime.fromisoformat(user.last_updated),
            profile=user.profile,
        )
    for group in org.groups.values():
        if group.type not in SPEC.mapping.team_group_types:
            continue
        snapshot.groups[group.id] = OktaGroupRecord(
            id=group.id,
            type=group.type,
            name=group.name,
            description=group.profile.get("description"),
            last_updated=datetime.fromisoformat(group.last_updated),
            last_membership_updated=datetime.fromisoformat(group.last_membership_updated),
        )
        snapshot.members[group.id] = frozenset(group.member_ids)
    return snapshot


class Timer:
    def __init__(self, profile: str | None) -> None:
        self.profile = profile
        self.seconds: dict[str, float] = {}
        self.profiles: dict[str, str] = {}

    def run(self, phase: str, action: Callable[[], T]) -> T:
        gc.collect()
        profiler = cProfile.Profile() if self.profile == phase else None
        start = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        result = action()
        if profiler is not None:
            profiler.disable()
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
            self.profiles[phase] = out.getvalue()
        self.seconds[phase] = time.perf_counter() - start
        return result


def measure(url: str, snapshot: OktaSnapshot, profile: str | None) -> Timer:
    timer = Timer(profile)
    now = datetime.now(UTC)
    plan: SyncPlan = timer.run(
        "plan", lambda: compute_plan(SPEC, KEY, DirectoryState(), snapshot, now)
    )
    with Directory.open(url) as directory:
        timer.run("apply", lambda: directory.apply(plan.changes))
        state = timer.run("load", lambda: directory.load_state(KEY))
    timer.run("replan", lambda: compute_plan(SPEC, KEY, state, snapshot, now))
    timer.run(
        "replan, rows trusted",
        lambda: compute_plan(SPEC, KEY, state, snapshot, now, trust_rows=True),
    )
    return timer


def scratch_postgresql(server: str) -> tuple[str, Callable[[], None]]:
    name = f"hris_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return f"{server.rsplit('/', 1)[0]}/{name}", drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20000)
    parser.add_argument("--groups", type=int, default=None, help="default: users / 50")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--postgresql",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        help="PostgreSQL server for the scratch database",
    )
    parser.add_argument("--no-postgresql", action="store_true")
    parser.add_argument(
        "--profile", choices=PHASES, metavar="PHASE", help="cProfile one phase (on each backend)"
    )
    args = parser.parse_args()
    groups = args.groups if args.groups is not None else max(1, args.users // 50)
    random.seed(args.seed)
    start = time.perf_counter()
    snapshot = snapshot_of(args.users, groups, args.seed)
    pairs = sum(len(m) for m in snapshot.members.values())
    print(
        f"org: {len(snapshot.users):,} users, {len(snapshot.groups):,} team groups, "
        f"{pairs:,} memberships (generated in {time.perf_counter() - start:.1f} s)"
    )
    results: list[tuple[str, Timer]] = []
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite:///{Path(scratch) / 'directory.db'}"
        results.append(("SQLite", measure(url, snapshot, args.profile)))
    if not args.no_postgresql:
        url, drop = scratch_postgresql(args.postgresql)
        try:
            results.append(("PostgreSQL", measure(url, snapshot, args.profile)))
        finally:
            drop()
    print()
    print("| backend | " + " | ".join(PHASES) + " |")
    print("|---|" + "---|" * len(PHASES))
    for backend, timer in results:
        print(f"| {backend} | " + " | ".join(f"{timer.seconds[p]:.1f} s" for p in PHASES) + " |")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS of this process: {peak:,.0f} MB")
    for backend, timer in results:
        for phase, text_ in timer.profiles.items():
            print(f"\ncProfile of {phase} on {backend}:\n{text_}")
    print("reproduce: .venv/bin/python bench/directory_apply.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
