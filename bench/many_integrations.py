"""One operator process holding N integrations of M users each: RSS per integration, syncs/min.

Reproduce with::

    .venv/bin/python bench/many_integrations.py                         # 50 x 1,000 users
    .venv/bin/python bench/many_integrations.py --integrations 500      # the issue's 500 x 1,000
    .venv/bin/python bench/many_integrations.py --load schedule --window 150
    .venv/bin/python bench/many_integrations.py --json

The parts are real and each in its own process, so that the operator's RSS and CPU are its
own: the Okta sandbox (``sandbox_process.py``, one generated org of M users and M/50 groups,
rate limits off; the N integrations share it under distinct names, as N orgs would be N
sandboxes), the Kubernetes API server (the tests' kmock emulator, ``tests/controller/
kube_emulator.py``, in this process), and ``okta-hris run`` itself (real Kopf, the chart's
defaults but for ``--concurrency``, an SQLite directory of its own unless ``--database``).

1. baseline: the operator's VmRSS once it serves the namespace with no integration in it;
2. N OktaIntegrations are created at once (one token Secret): cold start is the time until
   every one is Ready (N first full syncs);
3. steady state for ``--window`` seconds, under one of two loads:
   - ``resync`` (default, the capacity): each integration is asked for a full sync again
     (``hris.dev/resync-requested-at``) as soon as its previous one is echoed, so the
     operator never idles: syncs/min is what one process sustains, full syncs (the costly
     kind) at ``HRIS_MAX_CONCURRENT_SYNCS``;
   - ``schedule``: the integrations' own schedule at the shortest interval the spec allows
     (``1m``): syncs/min is what N integrations cost when the process keeps up with them.
   Syncs are counted from the operator's ``/metrics`` (``okta_hris_syncs_total``; the mean
   sync from ``okta_hris_sync_duration_seconds``), CPU from ``/proc/<pid>/stat``.

RSS per integration = (VmRSS at the end of the window - baseline) / N: each integration's
Kopf memory, daemon, status and state, and what the syncs left in the allocator (the working
set of HRIS_MAX_CONCURRENT_SYNCS syncs, the same for any N: two runs with different N give the
marginal cost). The extrapolation to other N multiplies that out, an upper bound; integrations per process at an hourly interval
= syncs/min x 60 (under ``resync``: full syncs, so a bound from below).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the tests' API server emulator and operator harness

import httpx  # noqa: E402
import kmock  # noqa: E402
from tests.controller.kube_emulator import ApiServer  # noqa: E402
from tests.controller.operator_harness import (  # noqa: E402
    TOKEN_SECRET,
    OperatorProcess,
    TestKube,
    integration,
    metrics_text,
    write_kubeconfig,
)

from okta_hris.resource.spec import API_GROUP, API_VERSION, KIND, PLURAL, RESYNC_ANNOTATION  # noqa: E402
from sandbox_process import TOKEN, start_sandbox  # noqa: E402

NAMESPACE = "bench"
USERS_PER_GROUP = 50
POLL_S = 0.2
SETTLE_S = 2.0  # after start, and after the window, before RSS is read
EXTRAPOLATE_TO = (500, 1000)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Figures:
    integrations: int
    users: int
    concurrency: int
    load: str
    baseline_mib: float
    cold_start_s: float  # until every integration was Ready
    steady_mib: float
    peak_mib: float
    window_s: float
    syncs: int
    failed_syncs: int
    mean_sync_s: float
    cpu_percent: float  # of one core, over the window
    harness_cpu_percent: float  # this process's (API server, load driver): is it the bottleneck?
    command: str

    @property
    def per_integration_mib(self) -> float:
        return (self.steady_mib - self.baseline_mib) / self.integrations

    @property
    def syncs_per_minute(self) -> float:
        return self.syncs / self.window_s * 60

    def extrapolated_mib(self, integrations: int) -> float:
        return self.baseline_mib + self.per_integration_mib * integrations


def vm_mib(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise SystemExit(f"the operator (pid {pid}) has exited")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def sync_counts(text: str) -> tuple[int, int, float, float]:
    """(syncs, failed syncs, seconds summed, durations counted) of the whole operator."""
    from prometheus_client.parser import text_string_to_metric_families

    syncs = failed = 0.0
    total = count = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "okta_hris_syncs_total":
                syncs += sample.value
                failed += sample.value if sample.labels.get("outcome") != "succeeded" else 0
            elif sample.name == "okta_hris_sync_duration_seconds_sum":
                total += sample.value
            elif sample.name == "okta_hris_sync_duration_seconds_count":
                count += sample.value
    return int(syncs), int(failed), total, count


def declare(server: ApiServer) -> None:
    server.declare(f"{API_GROUP}/{API_VERSION}/{PLURAL}", kind=KIND, subresources=("status",))
    server.declare("v1/secrets", kind="Secret")
    server.declare("v1/events", kind="Event")
    server.declare("v1/namespaces", kind="Namespace", namespaced=False)


def statuses(server: ApiServer) -> dict[str, dict[str, Any]]:
    """Every integration's status, read from the API server's memory: listing them over HTTP
    every 0.2 s would cost this process more CPU than the operator spends."""
    return {
        name: obj.raw.get("status") or {}
        for (resource, _, name), obj in list(server.objects.items())
        if resource.plural == PLURAL and not obj.deleted
    }


def is_ready(status: dict[str, Any]) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or []
    )


async def drive_resyncs(kube: TestKube, server: ApiServer, until: float) -> None:
    """Keep every integration busy: a new resync request as soon as the last one is echoed."""
    asked: dict[str, str] = {}
    serial = 0
    while time.monotonic() < until:
        for name, status in statuses(server).items():
            if name in asked and status.get("lastHandledResyncAt") != asked[name]:
                continue
            serial += 1
            asked[name] = f"bench-{serial}"
            await kube.annotate_integration(NAMESPACE, name, {RESYNC_ANNOTATION: asked[name]})
        await asyncio.sleep(POLL_S)


async def measure(args: argparse.Namespace, okta_url: str, command: str) -> Figures:
    async with ApiServer() as server, kmock.Server(server) as http:
        declare(server)
        with tempfile.TemporaryDirectory() as folder:
            kubeconfig = write_kubeconfig(
                Path(folder) / "kubeconfig", str(http.url).rstrip("/"), "bench"
            )
            database = args.database or f"sqlite:///{Path(folder) / 'directory.db'}"
            kube = TestKube.from_kubeconfig(kubeconfig)
            async with kube:
                operator = await OperatorProcess.start(
                    kubeconfig=kubeconfig,
                    namespace=NAMESPACE,
                    database_url=database,
                    environ={
                        "HRIS_OKTA_URL": okta_url,
                        "HRIS_MAX_CONCURRENT_SYNCS": str(args.concurrency),
                        "HRIS_RESTART_SPREAD": "0",
                    },
                    args=("--liveness-port=0", "--log-format=plain"),
                )
                try:
                    return await _run(args, kube, server, operator, command)
                except BaseException:
                    # What the operator said is why: its last lines, on stderr.
                    print("\n".join(operator.lines[-20:]), file=sys.stderr)
                    raise
                finally:
                    await operator.stop()


async def _run(
    args: argparse.Namespace,
    kube: TestKube,
    server: ApiServer,
    operator: OperatorProcess,
    command: str,
) -> Figures:
    pid = operator.process.pid
    await _until(lambda: _metrics_up(operator), "the operator to serve /metrics", 60)
    await asyncio.sleep(SETTLE_S)
    baseline = vm_mib(pid, "VmRSS")
    progress(f"operator up, {baseline:.0f} MiB; creating {args.integrations} integrations")

    await kube.apply_secret(NAMESPACE, TOKEN_SECRET, {"token": TOKEN})
    names = [f"org-{n:04d}" for n in range(args.integrations)]
    started = time.monotonic()
    for name in names:
        await kube.create(integration(NAMESPACE, name, sync={"interval": "1m"}))

    async def all_ready() -> bool:
        found = statuses(server)
        return len(found) == len(names) and all(is_ready(s) for s in found.values())

    try:
        await _until(all_ready, "every integration's first sync", args.timeout)
    except SystemExit:
        progress(f"statuses: {statuses(server)}")
        raise
    cold_start = time.monotonic() - started
    progress(f"every integration Ready after {cold_start:.1f} s; {args.load} load")

    before = sync_counts(await metrics_text(operator.metrics_url))
    cpu_before, window_start = cpu_seconds(pid), time.monotonic()
    harness_before = time.process_time()
    until = window_start + args.window
    if args.load == "resync":
        await drive_resyncs(kube, server, until)
    else:
        await asyncio.sleep(args.window)
    window = time.monotonic() - window_start
    cpu = cpu_seconds(pid) - cpu_before
    harness = time.process_time() - harness_before
    after = sync_counts(await metrics_text(operator.metrics_url))
    await asyncio.sleep(SETTLE_S)
    syncs, failed = after[0] - before[0], after[1] - before[1]
    counted = after[3] - before[3]
    return Figures(
        integrations=args.integrations,
        users=args.users,
        concurrency=args.concurrency,
        load=args.load,
        baseline_mib=round(baseline, 1),
        cold_start_s=round(cold_start, 1),
        steady_mib=round(vm_mib(pid, "VmRSS"), 1),
        peak_mib=round(vm_mib(pid, "VmHWM"), 1),
        window_s=round(window, 1),
        syncs=syncs,
        failed_syncs=failed,
        mean_sync_s=round((after[2] - before[2]) / counted, 2) if counted else 0.0,
        cpu_percent=round(100 * cpu / window, 1),
        harness_cpu_percent=round(100 * harness / window, 1),
        command=command,
    )


async def _metrics_up(operator: OperatorProcess) -> bool:
    try:
        return "okta_hris" in await metrics_text(operator.metrics_url)
    except httpx.HTTPError:  # not listening yet
        return False


async def _until(probe: Any, what: str, within: float) -> None:
    deadline = time.monotonic() + within
    while not await probe():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {within:g}s waiting for {what}")
        await asyncio.sleep(POLL_S)


def progress(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def print_table(found: Figures) -> None:
    rows = [
        ("integrations x users", f"{found.integrations} x {found.users}"),
        ("HRIS_MAX_CONCURRENT_SYNCS", str(found.concurrency)),
        ("baseline RSS (no integration)", f"{found.baseline_mib:.0f} MiB"),
        ("cold start (all first full syncs)", f"{found.cold_start_s:.1f} s"),
        (f"steady RSS ({found.load} load)", f"{found.steady_mib:.0f} MiB"),
        ("peak RSS", f"{found.peak_mib:.0f} MiB"),
        ("RSS per integration", f"{found.per_integration_mib:.2f} MiB"),
        (
            "syncs per minute",
            f"{found.syncs_per_minute:.1f} ({found.syncs} in {found.window_s:.0f} s, "
            f"{found.failed_syncs} failed)",
        ),
        ("mean sync", f"{found.mean_sync_s:.2f} s"),
        ("operator CPU (of one core)", f"{found.cpu_percent:.0f}%"),
        ("API server + load driver CPU", f"{found.harness_cpu_percent:.0f}%"),
    ]
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    n, m = EXTRAPOLATE_TO
    print(
        f"extrapolated to {n} x {m}: RSS {found.extrapolated_mib(n):.0f} MiB at most "
        f"(baseline + {n} x per integration, {found.users} users each; per integration also "
        "counts the syncs' working set, so compare two --integrations for the marginal cost)"
    )
    if found.load == "resync":
        print(
            f"integrations one process keeps at an hourly interval: about "
            f"{found.syncs_per_minute * 60:.0f} (syncs/min x 60; full syncs, so a lower bound)"
        )
    print(f"command: {found.command}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--integrations", type=int, default=50)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=2, help="HRIS_MAX_CONCURRENT_SYNCS")
    parser.add_argument("--load", choices=["resync", "schedule"], default="resync")
    parser.add_argument("--window", type=float, default=60.0, help="steady-state seconds")
    parser.add_argument("--timeout", type=float, default=1800.0, help="for the cold start")
    parser.add_argument("--database", help="a PostgreSQL URL (default: an SQLite file)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.integrations < 1 or args.users < 1:
        parser.error("--integrations and --users must be at least 1")
    command = ".venv/bin/python bench/many_integrations.py " + shlex.join(
        sys.argv[1:] if argv is None else argv
    )
    sandbox, okta_url = start_sandbox(
        args.users, max(1, args.users // USERS_PER_GROUP), "--no-rate-limits"
    )
    try:
        found = asyncio.run(measure(args, okta_url, command.strip()))
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=30)
    if args.json:
        print(json.dumps({**asdict(found), "per_integration_mib": found.per_integration_mib,
                          "syncs_per_minute": found.syncs_per_minute}))  # fmt: skip
    else:
        print_table(found)


if __name__ == "__main__":
    main()
