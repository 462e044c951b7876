"""Peak memory of the operator with N concurrent syncs of a large org, to size the chart.

Reproduce with::

    .venv/bin/python bench/operator_memory.py                        # 10,000 users; N = 1, 2, 4
    nice -n 19 .venv/bin/python bench/operator_memory.py --users 100000 --concurrency 1,2
    .venv/bin/python bench/operator_memory.py --users 10000 --concurrency 4 \\
        --database postgresql://postgres@127.0.0.1:5432/postgres
    .venv/bin/python bench/operator_memory.py --json                 # machine-readable

Each row (U users, N concurrent syncs) starts the bundled sandbox in its own process
(``sandbox_process.py``) with a generated org of U users and U/50 groups, as ``sync_10k.py``
has, and its rate limits off (nothing refused, and budgets in the ``X-Rate-Limit-*`` headers
too large for the client to pace itself by): the N syncs then overlap as much as they can, the
worst case for memory. ``--rate-limit-window S`` runs Okta's default ratios over S seconds
instead; the N integrations then share the one org's budget, and wait for each other. Then a
child process of its own, configured by the environment as the operator is
(``HRIS_MAX_CONCURRENT_SYNCS=N``, ``HRIS_DATABASE_URL`` a directory nobody synced into yet,
``HRIS_OKTA_URL`` the sandbox), builds the operator's runtime exactly as its start-up handler
does (``OperatorRuntime.start``: Kopf and the handlers imported, the directory opened and
migrated, the metrics server, the thread pool of N in which each sync runs in an event loop of
its own), and measures:

- baseline: VmRSS of that idle operator, before any sync;
- then N integrations (distinct keys, all pointing at the same org) synced at once, each under
  the runtime's semaphore as the reconciler runs them, in three rounds: ``first full`` into
  the empty directory; ``incremental`` after ``--changes`` (50) users changed in Okta
  (``sync_10k.change_users``); ``full`` again, of the populated directory, as the daily full
  sync or a resync runs (the most memory: the directory's rows are loaded as well as Okta's).
  ``--cycles K`` repeats the last two K times, to see whether the RSS levels off.

Each round's peak is its own: the high-water mark is reset before it
(``/proc/self/clear_refs``) and read (VmHWM) after it; the last round's is also the child's
``ru_maxrss`` from ``wait4`` once it has exited. Its steady state is VmRSS a second after it,
with no forced garbage collection: what an idle operator holds. Meanwhile the parent samples
``/proc/<child>/status`` every 50 ms for the curve printed under the table.

The suggested chart values are, per row: memory request = the highest steady state, limit =
the highest peak x 1.25, both rounded up to a multiple of 64Mi. Use the row whose N is the
chart's ``HRIS_MAX_CONCURRENT_SYNCS`` and whose U is the largest org it should serve. The
child inherits the environment: ``MALLOC_ARENA_MAX=2 .venv/bin/python bench/...`` measures
glibc's allocator with fewer per-thread arenas, for instance.

Not measured: Kopf's watch streams and the daemon per OktaIntegration (the benchmark needs no
cluster: its kubeconfig names an address nobody calls, and the token is handed to the syncs,
so they read no Secret), and invitations (off, as in an OktaIntegration by default).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import math
import os
import secrets
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from okta_hris.controller.options import LaunchOptions
from okta_hris.controller.runtime import OperatorRuntime
from okta_hris.directory.database import describe_url, parse_url
from okta_hris.errors import SecretNotFound
from okta_hris.invitations import SmtpSettings
from okta_hris.memory import tune_allocator
from okta_hris.okta import ApiToken
from okta_hris.resource.spec import OktaIntegrationSpec
from okta_hris.services import Failed, Held, Outcome
from sandbox_process import TOKEN, start_sandbox
from sync_10k import KEY, SPEC, change_users

# What `okta-hris run` imports before Kopf's start-up handler builds the runtime: the CLI,
# Kopf, and the handlers (importing okta_hris.controller.main registers them).
OPERATOR_MODULES = ("okta_hris.cli", "okta_hris.cli.operator", "okta_hris.controller.main")
# --no-rate-limits: the sandbox neither refuses requests nor counts X-Rate-Limit-Remaining down,
# so no sync waits for a window.
UNLIMITED = ["--no-rate-limits"]
FIRST_FULL, INCREMENTAL, FULL_AGAIN = "first full", "incremental", "full"
EXPECTED_MODE = {FIRST_FULL: "Full", INCREMENTAL: "Incremental", FULL_AGAIN: "Full"}
USERS_PER_GROUP = 50  # sync_10k.py's proportion: 10,000 users, 200 groups
SAMPLE_EVERY_S = 0.05
SETTLE_S = 1.0  # after a round, before its steady state is read
HEADROOM = 1.25
ROUND_TO_MIB = 64
SPARKS = "▁▂▃▄▅▆▇█"
CURVE_WIDTH = 60
JSON_CURVE_POINTS = 200


# -- the child: the operator's runtime and N concurrent syncs ------------------------------------


class SandboxToken:
    """Every integration's Credentials: the sandbox's token. No SMTP: invitations are off."""

    async def okta_credential(self, spec: OktaIntegrationSpec) -> ApiToken:
        return ApiToken(TOKEN)

    async def smtp_settings(self, spec: OktaIntegrationSpec) -> SmtpSettings:
        raise SecretNotFound("the benchmark sends no invitations")


def own_kib(field_name: str) -> int:
    """VmRSS or VmHWM of this process, in KiB."""
    value = status_kib(Path("/proc/self/status").read_text(), field_name)
    assert value is not None
    return value


def status_kib(status: str, field_name: str) -> int | None:
    """A ``Vm*`` line of /proc/<pid>/status in KiB; None once the process has exited."""
    for line in status.splitlines():
        if line.startswith(f"{field_name}:"):
            return int(line.split()[1])
    return None


def reset_high_water_mark() -> None:
    """VmHWM (and the ru_maxrss the parent reads at exit) restart from the current RSS."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError as exc:
        raise SystemExit(
            f"cannot reset the peak RSS (/proc/self/clear_refs, Linux 4.0+): {exc}"
        ) from None


def write_kubeconfig(folder: Path) -> str:
    """Credentials for a cluster the runtime's Kubernetes client never calls here."""
    path = folder / "kubeconfig"
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "bench", "cluster": {"server": "http://127.0.0.1:9"}}],
        "users": [{"name": "bench", "user": {"token": "bench"}}],
        "contexts": [{"name": "bench", "context": {"cluster": "bench", "user": "bench"}}],
        "current-context": "bench",
    }
    path.write_text(json.dumps(config))  # JSON is YAML
    return str(path)


def integration_keys(count: int) -> list[str]:
    """``bench/acme`` (the one change_users reads) and ``bench-1/acme`` ... for the others."""
    return [KEY, *(f"bench-{n}/acme" for n in range(1, count))]


def describe_outcome(key: str, outcome: Outcome) -> dict[str, Any]:
    if isinstance(outcome, Failed):
        return {"integration": key, "outcome": "failed", "reason": outcome.reason,
                "message": outcome.message}  # fmt: skip
    if isinstance(outcome, Held):
        return {"integration": key, "outcome": "held", "message": str(outcome.hold)}
    stats = outcome.report.stats
    return {"integration": key, "outcome": "succeeded", "mode": outcome.report.mode,
            "fetched": stats.fetched, "created": stats.created, "updated": stats.updated,
            "api_requests": stats.api_requests, "rate_limited": stats.rate_limited,
            "timings": {phase: round(s, 2) for phase, s in outcome.report.timings.items()}}  # fmt: skip


async def sync_one(runtime: OperatorRuntime, key: str, force_full: bool) -> dict[str, Any]:
    """One integration's sync as the reconciler runs it: under the operator-wide semaphore."""
    async with runtime.semaphore:
        outcome = await runtime.syncs.run(key, SPEC, SandboxToken(), force_full=force_full)
    return describe_outcome(key, outcome)


async def sync_round(
    runtime: OperatorRuntime, keys: list[str], name: str, *, force_full: bool = False
) -> dict[str, Any]:
    """Every integration's sync at once, with the peak RSS reset before: its own peak.

    The outcomes are reduced to a few numbers before the steady state is read, so that the
    benchmark holds no sync's plan."""
    reset_high_water_mark()
    started = time.monotonic()
    syncs = await asyncio.gather(*(sync_one(runtime, key, force_full) for key in keys))
    finished = time.monotonic()
    await asyncio.sleep(SETTLE_S)
    return {
        "name": name,
        "started": started,
        "finished": finished,
        "syncs": syncs,
        "peak_kib": own_kib("VmHWM"),
        "steady_kib": own_kib("VmRSS"),
    }


async def run_syncs(changes: int, cycles: int) -> dict[str, Any]:
    """The child's whole run; its settings come from the environment, as the operator's do."""
    for module in OPERATOR_MODULES:
        importlib.import_module(module)
    with tempfile.TemporaryDirectory() as folder:
        launch = LaunchOptions(
            metrics_host="127.0.0.1", metrics_port=0, kubeconfig=write_kubeconfig(Path(folder))
        )
        runtime = await OperatorRuntime.start(launch, peered=False)  # one replica, as the chart
    try:
        baseline = own_kib("VmRSS")
        okta_url, directory = runtime.settings.okta_url, runtime.directory
        assert okta_url is not None
        keys = integration_keys(runtime.settings.max_concurrent_syncs)
        rounds = [await sync_round(runtime, keys, FIRST_FULL)]
        for _ in range(cycles):
            await asyncio.to_thread(change_users, okta_url, directory, changes)
            rounds.append(await sync_round(runtime, keys, INCREMENTAL))
            rounds.append(await sync_round(runtime, keys, FULL_AGAIN, force_full=True))
    finally:
        await runtime.close()
    return {"baseline_kib": baseline, "rounds": rounds}


# -- the parent: one sandbox and one child per row -----------------------------------------------


@dataclass
class Round:
    name: str
    seconds: float
    peak_mib: float
    steady_mib: float
    syncs: list[dict[str, Any]]
    window_s: tuple[float, float]  # start and end, in seconds since the child started

    @property
    def succeeded(self) -> bool:
        """Every sync succeeded, in the mode the round is named after."""
        mode = EXPECTED_MODE[self.name]
        return all(sync["outcome"] == "succeeded" and sync["mode"] == mode for sync in self.syncs)

    def outcomes(self) -> str:
        modes = sorted({sync.get("mode", sync["outcome"]) for sync in self.syncs})
        ok = sum(sync["outcome"] == "succeeded" for sync in self.syncs)
        return f"{ok}/{len(self.syncs)} {'+'.join(modes)}"


@dataclass
class Row:
    users: int
    groups: int
    concurrency: int
    directory: str
    rate_limits: str
    baseline_mib: float
    rounds: list[Round]
    sampled_peak_mib: float  # the sampler's highest VmRSS: a cross-check of the peaks
    command: str
    curve: list[tuple[float, float]] = field(repr=False)  # (seconds, VmRSS MiB)

    @property
    def succeeded(self) -> bool:
        return all(found.succeeded for found in self.rounds)

    @property
    def peak_mib(self) -> float:
        return max(found.peak_mib for found in self.rounds)

    @property
    def steady_mib(self) -> float:
        return max(found.steady_mib for found in self.rounds)

    def per_sync_mib(self, found: Round) -> float:
        """What each of the N concurrent syncs adds to the idle operator, on average."""
        return (found.peak_mib - self.baseline_mib) / self.concurrency

    @property
    def suggested(self) -> dict[str, str]:
        return {
            "requests.memory": f"{round_up(self.steady_mib)}Mi",
            "limits.memory": f"{round_up(self.peak_mib * HEADROOM)}Mi",
        }


def mib(kib: float) -> float:
    return kib / 1024


def round_up(value_mib: float) -> int:
    return math.ceil(value_mib / ROUND_TO_MIB) * ROUND_TO_MIB


def sample_rss(pid: int, stop: threading.Event, samples: list[tuple[float, int]]) -> None:
    """(monotonic time, VmRSS KiB) of the child until it is gone or ``stop`` is set."""
    while not stop.wait(SAMPLE_EVERY_S):
        try:
            rss = status_kib(Path(f"/proc/{pid}/status").read_text(), "VmRSS")
        except OSError:
            return
        if rss is None:  # exited, not yet reaped
            return
        samples.append((time.monotonic(), rss))


@contextlib.contextmanager
def fresh_directory(server: str | None, folder: Path) -> Iterator[str]:
    """A directory nobody synced into: a new SQLite file, or a scratch database created on the
    PostgreSQL server of ``server`` (and dropped afterwards)."""
    if server is None:
        yield f"sqlite:///{folder / f'directory-{secrets.token_hex(4)}.db'}"
        return
    url = parse_url(server)
    scratch = f"hris_bench_{secrets.token_hex(4)}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{scratch}"')
        try:
            yield url.set(database=scratch).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
    finally:
        admin.dispose()


def run_child(
    environ: dict[str, str], args: argparse.Namespace
) -> tuple[dict[str, Any], int, list[tuple[float, int]]]:
    """Run the child to its end: its report, its ru_maxrss (KiB) and the RSS samples."""
    command = [sys.executable, __file__, "--run-syncs", "--changes", str(args.changes),
               "--cycles", str(args.cycles)]  # fmt: skip
    samples: list[tuple[float, int]] = []
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        child = subprocess.Popen(command, stdout=out, stderr=err, env=environ)
        stop = threading.Event()
        sampler = threading.Thread(target=sample_rss, args=(child.pid, stop, samples))
        sampler.start()
        try:
            _, status, usage = os.wait4(child.pid, 0)  # this child's rusage, not every child's
        finally:
            stop.set()
            sampler.join()
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            err.seek(0)
            lines = err.read().decode(errors="replace").strip().splitlines() or ["no output"]
            raise SystemExit(f"the syncing process exited with {child.returncode}: {lines[-1]}")
        out.seek(0)
        return json.loads(out.read()), usage.ru_maxrss, samples


def measure(users: int, concurrency: int, args: argparse.Namespace) -> Row:
    groups = max(1, users // USERS_PER_GROUP)
    if args.rate_limit_window is None:
        limits, rate_limits = UNLIMITED, "off"
    else:
        limits = ["--rate-limit-window", str(args.rate_limit_window)]
        rate_limits = f"Okta's ratios per {args.rate_limit_window:g} s"
    sandbox, okta_url = start_sandbox(users, groups, *limits)
    try:
        with (
            tempfile.TemporaryDirectory() as folder,
            fresh_directory(args.database, Path(folder)) as database_url,
        ):
            environ = dict(
                os.environ,
                HRIS_DATABASE_URL=database_url,
                HRIS_OKTA_URL=okta_url,
                HRIS_MAX_CONCURRENT_SYNCS=str(concurrency),
                # Any free port, as the metrics server's: another run (a test, CI) may hold 8081.
                HRIS_HOOKS_ADDRESS="127.0.0.1:0",
            )
            started = time.monotonic()
            report, max_rss_kib, samples = run_child(environ, args)
    finally:
        sandbox.terminate()
        sandbox.wait()

    def round_of(found: dict[str, Any], *peaks_kib: int) -> Round:
        """The round's peak is the highest of its readings (VmHWM, then VmRSS, and ru_maxrss
        for the last round): the kernel counters behind them may differ a little."""
        return Round(
            name=found["name"],
            seconds=found["finished"] - found["started"],
            peak_mib=mib(max(found["peak_kib"], found["steady_kib"], *peaks_kib)),
            steady_mib=mib(found["steady_kib"]),
            syncs=found["syncs"],
            window_s=(found["started"] - started, found["finished"] - started),
        )

    *earlier, last = report["rounds"]
    return Row(
        users=users,
        groups=groups,
        concurrency=concurrency,
        directory=parse_url(database_url).get_backend_name(),
        rate_limits=rate_limits,
        baseline_mib=mib(report["baseline_kib"]),
        rounds=[*map(round_of, earlier), round_of(last, max_rss_kib)],
        sampled_peak_mib=mib(max((rss for _, rss in samples), default=0)),
        command=reproduce(users, concurrency, args),
        curve=[(t - started, mib(rss)) for t, rss in samples],
    )


def reproduce(users: int, concurrency: int, args: argparse.Namespace) -> str:
    command = [".venv/bin/python", "bench/operator_memory.py", "--users", str(users)]
    command += ["--concurrency", str(concurrency), "--changes", str(args.changes)]
    if args.cycles != 1:
        command += ["--cycles", str(args.cycles)]
    if args.database:
        command += ["--database", describe_url(parse_url(args.database))]
    if args.rate_limit_window is not None:
        command += ["--rate-limit-window", f"{args.rate_limit_window:g}"]
    return shlex.join(command)


# -- output ----------------------------------------------------------------------------------------


def sparkline(curve: list[tuple[float, float]], width: int = CURVE_WIDTH) -> str:
    """The curve in ``width`` columns, each the highest RSS of its time slice."""
    if not curve:
        return ""
    end = curve[-1][0] or 1.0
    columns = [0.0] * width
    for t, rss in curve:
        slot = min(width - 1, int(t / end * width))
        columns[slot] = max(columns[slot], rss)
    for slot in range(1, width):  # a slice with no sample keeps the level before it
        columns[slot] = columns[slot] or columns[slot - 1]
    top = max(columns) or 1.0
    return "".join(SPARKS[min(len(SPARKS) - 1, int(v / top * len(SPARKS)))] for v in columns)


def thin(curve: list[tuple[float, float]], points: int) -> list[tuple[float, float]]:
    """At most ``points`` samples for the JSON, keeping each stretch's highest."""
    size = max(1, math.ceil(len(curve) / points))
    chunks = (curve[i : i + size] for i in range(0, len(curve), size))
    return [(round(c[0][0], 2), round(max(rss for _, rss in c), 1)) for c in chunks]


HEADERS = ("users", "N", "baseline", "round", "peak", "per sync", "steady", "seconds", "syncs")


def lines_of(row: Row) -> Iterator[tuple[str, ...]]:
    """One line per round; the first names the row."""
    first: tuple[str, ...] = (f"{row.users:,}", str(row.concurrency), f"{row.baseline_mib:.0f}")
    for found in row.rounds:
        yield (*first, found.name, f"{found.peak_mib:.0f}", f"{row.per_sync_mib(found):.0f}",
               f"{found.steady_mib:.0f}", f"{found.seconds:.1f}", found.outcomes())  # fmt: skip
        first = ("", "", "")


def print_table(rows: list[Row]) -> None:
    lines = [HEADERS, *(line for row in rows for line in lines_of(row))]
    widths = [max(len(line[i]) for line in lines) for i in range(len(HEADERS))]
    for line in lines:
        cells = (cell.ljust(width) if header in ("round", "syncs") else cell.rjust(width)
                 for cell, width, header in zip(line, widths, HEADERS, strict=True))  # fmt: skip
        print("  ".join(cells).rstrip())


def print_report(rows: list[Row], changes: int) -> None:
    first = rows[0]
    print(
        f"operator RSS in MiB; directory: {first.directory} (a fresh one per row); Okta: the "
        f"sandbox in its own process, U/{USERS_PER_GROUP} groups, rate limits {first.rate_limits}"
    )
    print(
        f"rounds: {FIRST_FULL} = into the empty directory; {INCREMENTAL} = after "
        f"{changes} users changed in Okta; "
        f"{FULL_AGAIN} = a full sync of the populated directory (daily, or on a resync)"
    )
    print("peak = that round's own; per sync = (peak - baseline) / N; steady = RSS 1 s after\n")
    print_table(rows)
    print()
    for row in rows:
        windows = ", ".join(
            f"{found.name} {found.window_s[0]:.1f}-{found.window_s[1]:.1f} s"
            for found in row.rounds
        )
        print(f"{row.users:,} users, N={row.concurrency}: {row.command}")
        print(
            f"  RSS {sparkline(row.curve)} (sampled max {row.sampled_peak_mib:.0f} MiB; {windows})"
        )
    print(
        "\nsuggested chart values (requests = the highest steady state, limits = the highest "
        f"peak x {HEADROOM}, both rounded up to {ROUND_TO_MIB}Mi):"
    )
    for row in rows:
        values = row.suggested
        print(
            f"  {row.users:>7,} users, HRIS_MAX_CONCURRENT_SYNCS={row.concurrency}: "
            f"requests.memory {values['requests.memory']}, limits.memory {values['limits.memory']}"
        )
    for row in rows:
        for found in row.rounds:
            for sync in found.syncs:
                if sync["outcome"] != "succeeded":
                    print(f"{row.users:,} users, N={row.concurrency}, {found.name}: "
                          f"{sync['integration']} {sync['outcome']}: {sync['message']}")  # fmt: skip


def as_json(row: Row) -> dict[str, Any]:
    found = asdict(row)
    found["curve"] = thin(row.curve, JSON_CURVE_POINTS)
    for described, counted in zip(found["rounds"], row.rounds, strict=True):
        described["per_sync_mib"] = row.per_sync_mib(counted)
    found.update(peak_mib=row.peak_mib, steady_mib=row.steady_mib, suggested=row.suggested)
    return found


# -- the command line ------------------------------------------------------------------------------


def whole_numbers(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a comma-separated list of numbers"
        ) from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: every number must be at least 1")
    return values


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--users", type=whole_numbers, action="append",
                        help="org sizes, repeatable or comma-separated (default 10000)")  # fmt: skip
    parser.add_argument("--concurrency", type=whole_numbers, default=[1, 2, 4],
                        help="concurrent syncs N, comma-separated (default 1,2,4)")  # fmt: skip
    parser.add_argument("--changes", type=int, default=50,
                        help="users changed before the incremental round (default 50)")  # fmt: skip
    parser.add_argument("--cycles", type=int, default=1,
                        help="(incremental, full) rounds after the first full one (default 1)")  # fmt: skip
    parser.add_argument("--database", default=None,
                        help="a PostgreSQL server URL (a scratch database is created on it per "
                        "row); default a fresh SQLite file")  # fmt: skip
    parser.add_argument("--rate-limit-window", type=float, default=None, metavar="SECONDS",
                        help="Okta's default rate limits over this window (default: off)")  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--run-syncs", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.users = [users for group in args.users or [[10_000]] for users in group]
    return args


def main() -> None:
    args = parse_args()
    if args.run_syncs:
        tune_allocator()  # as `okta-hris run` does before it starts
        print(json.dumps(asyncio.run(run_syncs(args.changes, args.cycles))))
        return
    rows = [measure(users, n, args) for users in args.users for n in args.concurrency]
    if args.json:
        print(json.dumps([as_json(row) for row in rows], indent=2))
    else:
        print_report(rows, args.changes)
    if not all(row.succeeded for row in rows):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
